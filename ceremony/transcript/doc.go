// Package transcript records a key ceremony as a signed, hash-chained journal of events and
// seals it with a checkpoint in the C2SP signed-note format (c2sp.org/signed-note), laid out
// like a C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint).
//
// The transcript is the ceremony's journal: every event is written and synced before
// [Writer.Append] returns, so a ceremony interrupted at any point is resumed with [Open]. An
// auditor checks a finished ceremony with [Verify], or without this code with
// scripts/verify-transcript, which needs only bash, coreutils, jq and openssl.
//
// # Files
//
// A ceremony folder DIR holds
//
//   - DIR/transcript.pub: the ceremony signing public key, a PEM "PUBLIC KEY" block (SPKI);
//     written first, before any event.
//   - DIR/transcript.jsonl: the events, one JSON object a line, each line ending in a newline.
//   - DIR/checkpoint: the seal, written last, once: a signed note over the whole chain.
//
// Files named by events are paths relative to DIR, slash-separated, with no empty, "." or ".."
// element (as [io/fs.ValidPath], and not "."), no backslash and no control character. Nothing is
// ever overwritten: transcript.pub, the first line of transcript.jsonl and checkpoint are
// written to a temporary file, synced, and renamed into place without replacing anything
// (internal/atomicfile); later lines are appended and synced one by one.
//
// One exception to "every named file must be there": the first format kept the custodians'
// share files in the folder and named them in the backup event (backup-SETID/share-*). Such a
// file, named by a "backup" step event, may be absent (its custodian took it); verification then
// reports "handout not in the folder: PATH". When present it must match like any other.
//
// # Lines
//
// The byte form of a line is specified here, not by any JSON library: the writer produces
// exactly this form, and both verifiers refuse anything else, byte for byte. A line is a JSON
// object (RFC 8259) with exactly these members, in this order, and no whitespace outside strings:
//
//	{"seq":N,"time":T,"step":S,"kind":K,"actor":{"role":R,"name":M},
//	"facts":{...},"files":[{"path":P,"sha256":H},...],"prev":V,"sig":G}
//
// where
//
//   - seq: the 0-based position of the line in the file, in decimal, without leading zeros,
//     at most 9 digits.
//   - time: a string, RFC 3339 in UTC as "YYYY-MM-DDTHH:MM:SS" then, only when it is not zero,
//     "." and the fraction of a second in 1 to 9 digits without trailing zeros, then "Z":
//     "2026-11-27T10:04:05.12345Z", "2026-11-27T10:04:05Z".
//   - step: the engine's step id ("generate-key").
//   - kind: "begin" (only seq 0), "step", "exception" (a deviation: host-assisted wrap, a
//     retried step, a witness's remark) or "end" (only the last event; written by [Writer.Seal]).
//   - actor: who acted, role and name; both "" for the end event.
//   - facts: a JSON object in canonical form (below), the step's facts; its members keep the
//     order the writer gave them, and its bytes are signed as they are. The begin event's facts
//     are [BeginFacts]: exactly "algorithm", "public_key", "fingerprint", "plan_sha256" in this
//     order, then optionally "ceremony". The end event's facts are exactly {"origin":O}.
//   - files: the artefacts of the step, each a path (see Files) and the SHA-256 of its
//     content, taken when the event was written, as 64 lowercase hex digits; [] when none.
//   - prev: the SHA-256 of the previous line's exact bytes, without its newline, as 64
//     lowercase hex digits; "" for seq 0.
//   - sig: the signature in standard base64 with padding (RFC 4648 section 4) and zero unused
//     bits, not empty; always the last member.
//
// Every string (names and values, in facts too) is in canonical form: the UTF-8 of its
// characters (valid UTF-8, no surrogates) between double quotes, where '"' and '\' are written
// \" and \\; backspace, form feed, newline, carriage return and tab are written \b \f \n
// \r \t; every other character below U+0020, and '<', '>', '&', U+2028 and U+2029, is written
// \u and four lowercase hex digits ("\u003c"); and every other character, DEL and U+FFFD
// included, is written as itself. No other escape (\/, \u0041, uppercase hex, surrogate
// pairs) appears. This is the form Go's encoding/json writes since Go 1.22, so transcripts
// written before the form was specified are in it: testdata/frozen-v1 is such a folder, and
// every later version must verify it unchanged.
//
// A facts object is in canonical form when it has no whitespace outside strings, its strings
// are canonical, its numbers are written as RFC 8259 section 6 allows (kept as written), no
// object in it has two members of the same name, and it nests at most 64 deep. true, false and
// null are as in RFC 8259.
//
// # Signatures
//
// The signed message of a line is the line without its newline, with its final
// `,"sig":"<base64>"` removed: the line is `<message minus its final "}">,"sig":"<base64>"}`,
// so the message is recovered with
//
//	sed -E 's/,"sig":"[A-Za-z0-9+\/=]*"\}$/}/'
//
// The message is the line of the same event without its sig member. The signing key is
// Ed25519 (RFC 8032, over the message bytes) or ECDSA P-256 with SHA-256 (over SHA-256 of the
// message, an ASN.1 DER signature), or, on a token with neither, RSA-3072 with exponent 65537:
// "rsa-pss-3072-sha256" is RSASSA-PSS (RFC 8017) over SHA-256 of the message with MGF1 SHA-256
// and a 32-byte salt, "rsa-pkcs1-3072-sha256" RSASSA-PKCS1-v1_5 with SHA-256 where the token has
// no PSS. The begin event (seq 0) carries the algorithm and the public key, which must be the one
// in transcript.pub, and its fingerprint "SHA256:<hex of SHA-256 of the SPKI DER>"; an RSA key's
// algorithm is the begin event's, whose signature must verify that way.
//
// # Seal
//
// The checkpoint is a signed note whose text has three lines, as a tlog-checkpoint:
//
//	<origin>                  e.g. "keyceremony/2026-11-27-aws-root"
//	<number of events>        decimal, the end event included
//	<base64 SHA-256 of the last line, without its newline>
//
// The third line is the head of the hash chain, not the root of a Merkle tree: as every line
// holds the hash of the line before it, the last line's hash commits to the whole transcript.
// No consistency or inclusion proofs exist for it; a witness cosigning the checkpoint attests to
// having seen it, nothing more. The note is signed by the ceremony key under the key name
// <origin>, with the signature types of c2sp.org/signed-note:
//
//   - 0x01, Ed25519: key ID = SHA-256(origin || 0x0A || 0x01 || 32-byte public key)[:4];
//     signature = Ed25519 over the note text.
//   - 0x02, ECDSA as github.com/transparency-dev/witness implements it: key ID = SHA-256(SPKI
//     DER)[:4]; signature = ASN.1 DER ECDSA over SHA-256 of the note text; verifier key
//     "<origin>+<key ID hex>+base64(0x02 || SPKI DER)".
//   - RSA, which signed-note assigns no type byte: the type is 0xff (reserved there for types
//     without an assigned byte, followed by a longer identifier) and the identifier
//     "keyceremony/" + the algorithm; key ID = SHA-256(origin || 0x0A || 0xff ||
//     "keyceremony/rsa-pss-3072-sha256" (or -pkcs1-) || SPKI DER)[:4]; signature as for the
//     events, over the note text; verifier key "<origin>+<key ID hex>+base64(0xff || identifier
//     || SPKI DER)". Only keyceremony's two verifiers know this type: a general signed-note
//     verifier ignores the signature, as the spec says it must for unknown keys.
//
// No verifier key file is written: [VerifierKey] derives it from transcript.pub and the origin,
// and [Verify] does the same.
//
// The checkpoint carries exactly one signature line by the ceremony key (its name and key ID).
// A second one, a line with the ceremony key's name and another key ID, or a line with its key
// ID and another name, is refused. Every other line must be a witness cosignature in the form
// of c2sp.org/tlog-cosignature (type 0x04: a 4-byte key ID, then an 8-byte big-endian
// timestamp and a 64-byte Ed25519 signature); cosignatures are listed in the report and not
// checked here. At most 100 signature lines.
//
// # What the folder holds
//
// Verification accepts only what was signed. Every entry of the folder must be a regular file
// named by an event, one of transcript.jsonl, transcript.pub and checkpoint, or a folder on the
// path of a named file. The one exception is an upload receipt, upload-receipt.json or
// upload-receipt-N.json, in a folder targets/NAME (targets/LABEL/NAME in a ceremony of several
// keys) that holds a file named by a wrap step ("wrap" or "wrap:NAME"): receipts are written later on the connected side and nobody signed them, so
// they are listed as "unverified receipt: PATH" and vouched for by nothing. A witness's SSH
// signature of the checkpoint, checkpoint.sshsig-NAME beside it, is a fixed file of the format
// (see [SSHSignaturePrefix]), listed in [Report.SSHSignatures] and checked only against a list
// of witnesses (package ceremony/witness). Anything else fails
// with its path ("unexpected file targets/evil/x: not named by any signed event"); with
// [Options.AllowExtra] an unnamed regular file or folder is listed as a warning instead.
//
// Files are read only when they are regular files of at most [MaxFileSize] (64 MiB) bytes, and
// never through a symbolic link (in the file's own name or a folder on its path): a named pipe,
// a device or a symlink, named or not, is refused with its path, so no folder can make a
// verifier block or read without end.
//
// # Verification order
//
// [Verify] and scripts/verify-transcript check in the same order and stop at the first problem,
// so they name the same first bad event: transcript.pub (reported as event 0); then each line in
// turn: complete and well formed, seq, prev, kind, the begin facts against transcript.pub (seq
// 0), the signature, each file's SHA-256; then the seal: present, well formed, its signature
// lines, its count (a missing event is named by its seq), its chain head and origin; then every
// entry of the folder, files before folders, each in byte order of its path.
package transcript
