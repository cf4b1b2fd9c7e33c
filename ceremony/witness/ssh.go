package witness

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SSHNamespace is the SSHSIG namespace of a cosignature, so that no signature a witness's SSH
// key makes for another purpose (git commits, files) can pass for one.
const SSHNamespace = "keyceremony-cosign"

// sshsigMagic starts both an SSHSIG blob and its signed data (PROTOCOL.sshsig in OpenSSH).
const sshsigMagic = "SSHSIG"

// sshSignedData is what an SSH key signs for an SSHSIG of message: the magic, the namespace, an
// empty reserved field, the hash algorithm and the hash of the message.
func sshSignedData(message []byte) []byte {
	h := sha512.Sum512(message)
	return append([]byte(sshsigMagic), ssh.Marshal(struct {
		Namespace, Reserved, HashAlg string
		Hash                         []byte
	}{SSHNamespace, "", "sha512", h[:]})...)
}

// sshsig is the SSHSIG blob after its magic.
type sshsig struct {
	Version   uint32
	PublicKey []byte
	Namespace string
	Reserved  string
	HashAlg   string
	Signature []byte
}

// SignSSH returns an armored SSHSIG by signer of the checkpoint's note text, as ssh-keygen -Y
// sign -n keyceremony-cosign writes it.
func SignSSH(signer ssh.Signer, text string) ([]byte, error) {
	alg := ""
	if signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		alg = ssh.KeyAlgoRSASHA512 // OpenSSH refuses SHA-1 RSA signatures in SSHSIG
	}
	var sig *ssh.Signature
	var err error
	if as, ok := signer.(ssh.AlgorithmSigner); ok && alg != "" {
		sig, err = as.SignWithAlgorithm(nil, sshSignedData([]byte(text)), alg)
	} else {
		sig, err = signer.Sign(nil, sshSignedData([]byte(text)))
	}
	if err != nil {
		return nil, fmt.Errorf("the SSH key did not sign: %v", err)
	}
	blob := append([]byte(sshsigMagic), ssh.Marshal(sshsig{1, signer.PublicKey().Marshal(), SSHNamespace, "", "sha512", ssh.Marshal(sig)})...)
	return armorSSH(blob), nil
}

// armorSSH writes blob as ssh-keygen does: base64 in lines of 70 between BEGIN and END lines.
func armorSSH(blob []byte) []byte {
	b64 := base64.StdEncoding.EncodeToString(blob)
	var out bytes.Buffer
	out.WriteString("-----BEGIN SSH SIGNATURE-----\n")
	for len(b64) > 70 {
		out.WriteString(b64[:70] + "\n")
		b64 = b64[70:]
	}
	out.WriteString(b64 + "\n-----END SSH SIGNATURE-----\n")
	return out.Bytes()
}

// verifySSH checks that armored is an SSHSIG by pub, in namespace [SSHNamespace], of text.
func verifySSH(armored []byte, pub ssh.PublicKey, text string) error {
	block, rest := pem.Decode(armored)
	if block == nil || block.Type != "SSH SIGNATURE" || len(block.Headers) != 0 || len(bytes.TrimSpace(rest)) != 0 {
		return errors.New("not an armored SSH signature")
	}
	blob, ok := bytes.CutPrefix(block.Bytes, []byte(sshsigMagic))
	var s sshsig
	if !ok || ssh.Unmarshal(blob, &s) != nil || s.Version != 1 {
		return errors.New("not an SSH signature (SSHSIG version 1)")
	}
	if s.Namespace != SSHNamespace || s.HashAlg != "sha512" || s.Reserved != "" {
		return fmt.Errorf("made for namespace %q with %s, not %q with sha512", s.Namespace, s.HashAlg, SSHNamespace)
	}
	if !bytes.Equal(s.PublicKey, pub.Marshal()) {
		return errors.New("made by another key")
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(s.Signature, &sig); err != nil {
		return errors.New("the signature is malformed")
	}
	if sig.Format == ssh.KeyAlgoRSA {
		return errors.New("an RSA signature with SHA-1")
	}
	if err := pub.Verify(sshSignedData([]byte(text)), &sig); err != nil {
		return errors.New("does not verify over this checkpoint")
	}
	return nil
}

// SSHWitness is a witness who cosigns with an SSH key: an allowed-signers line.
type SSHWitness struct {
	Name string
	Key  ssh.PublicKey
}

// parseAllowedSigner reads one allowed-signers line, "NAME [namespaces=\"...\"] KEYTYPE BASE64
// [comment]" (ssh-keygen(1), ALLOWED SIGNERS). NAME is one principal, a witness name of
// letters, digits and "@._-"; a namespaces option must include [SSHNamespace]; other options
// (cert-authority, valid-after, ...) are refused rather than ignored.
func parseAllowedSigner(line string) (SSHWitness, error) {
	name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	if !sshName(name) {
		return SSHWitness{}, fmt.Errorf("allowed signer %q: the principal must be one witness name of letters, digits and \"@._-\" (no patterns, no lists)", name)
	}
	key, _, options, more, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil || len(bytes.TrimSpace(more)) != 0 {
		return SSHWitness{}, fmt.Errorf("allowed signer %s: not one public key of a type SSH knows", name)
	}
	for _, o := range options {
		list, ok := strings.CutPrefix(o, "namespaces=")
		if !ok {
			return SSHWitness{}, fmt.Errorf("allowed signer %s: option %s is not supported\nhint: list the witness's key with no options but namespaces=", name, o)
		}
		if !strings.Contains(","+strings.Trim(list, `"`)+",", ","+SSHNamespace+",") {
			return SSHWitness{}, fmt.Errorf("allowed signer %s may sign only for namespaces %s, not %s", name, list, SSHNamespace)
		}
	}
	if _, isCert := key.(*ssh.Certificate); isCert {
		return SSHWitness{}, fmt.Errorf("allowed signer %s: certificates are not supported; list the witness's own key", name)
	}
	return SSHWitness{name, key}, nil
}

// sshName reports whether name can name an SSH witness and its signature file.
func sshName(name string) bool {
	return len(name) >= 1 && len(name) <= 64 && strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-") == ""
}
