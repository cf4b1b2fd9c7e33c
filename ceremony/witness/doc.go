// Package witness lets people other than the ceremony's own key vouch for a ceremony's seal,
// and checks that they did.
//
// A witness cosigns the checkpoint (the seal, a C2SP signed note; see ceremony/transcript) in
// one of two ways:
//
//   - with a witness key made by [GenerateKey]: an Ed25519 cosignature of c2sp.org/tlog-cosignature
//     (type 0x04), a signature line added to the checkpoint itself. The signed message is
//     "cosignature/v1\ntime <unix seconds>\n" followed by the checkpoint's note text; the key ID
//     is SHA-256(name || "\n" || 0x04 || public key)[:4]; the line's signature is the key ID, the
//     timestamp (8 bytes, big-endian) and the 64-byte Ed25519 signature.
//   - with an SSH key, a FIDO2 sk-ssh-ed25519 key included: an SSH signature (SSHSIG, as
//     ssh-keygen -Y sign makes, namespace [SSHNamespace], SHA-512) of the checkpoint's note
//     text, in a file of its own beside the checkpoint, checkpoint.sshsig-NAME, since an SSHSIG
//     cannot be a signed-note line. `ssh-keygen -Y verify -n keyceremony-cosign` checks it too.
//
// The checkpoint is the one file of a ceremony folder that changes after the seal: [Cosign]
// writes the checkpoint with one more signature line to a temporary file in the folder and
// renames it over the old one, so a reader sees the old checkpoint or the new one, never a
// part. The ceremony's own signature line and the note text are never changed; a cosignature
// covers the text alone, so the lines of different witnesses do not depend on one another.
//
// # Keys
//
// A witness key is written as a C2SP signed-note key pair:
//
//	verifier key: <name>+<key ID, 8 hex digits>+base64(0x04 || 32-byte Ed25519 public key)
//	private key:  PRIVATE+KEY+<name>+<key ID>+base64(0x04 || 32-byte Ed25519 seed)
//
// The private key file holds that line, age-encrypted with a passphrase (scrypt) unless the
// witness keeps it elsewhere in hardware and asks for it in the clear. The fingerprint of a
// witness key is "SHA256:" and the hex SHA-256 of the 32-byte public key.
//
// # Checking
//
// [Check] counts a cosignature only when it is by a listed witness (name and key ID, or for SSH
// the file's NAME and the principal's key), verifies over exactly the verified checkpoint's
// text, and is the first valid one of that witness. Every other one is reported by name and not
// counted. A witness list holds one witness a line: a verifier key, or an allowed-signers line
// as ssh-keygen reads it ("NAME [namespaces=\"...\"] KEYTYPE BASE64 [comment]").
package witness
