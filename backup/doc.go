// Package backup backs up a key held in a PKCS#11 token under a quorum of custodians, and
// restores it into any token.
//
// The target key leaves the token only as AES-KWP(backupKey, target), made by C_WrapKey with
// CKM_AES_KEY_WRAP_PAD (RFC 5649): the backup blob. The backup key, 256 bits from the token's
// RNG, is split M-of-N with Shamir's secret sharing over GF(2^8) (github.com/hashicorp/vault/shamir)
// and zeroed; each custodian gets one [Share].
//
// Vault's Combine returns garbage without a word on a wrong share, so this package adds what it
// lacks:
//   - a [Manifest] (JSON, signed into the ceremony transcript) with one commitment per share
//     (SHA-256 over the set ID, the share's number and its value), the KCVs of the backup key
//     and of the target, and the SHA-256 of the blob;
//   - a typed form of each share in Crockford base32 (https://www.crockford.com/base32.html),
//     every line ending in Reed-Solomon check characters so a typo is caught on its line as it
//     is typed, plus a check over the whole share ([Share.Typed], [ParseTyped], [CheckTypedLine]);
//   - a [Collector] that checks each share as it is entered and names a bad one, refuses x = 0,
//     repeats, shares of another set and too few shares, and checks the rebuilt key's KCV.
//
// Shares also travel as a QR code of the typed form ([Share.QRPNG], [Share.QRTerminal]) and as
// an age file (filippo.io/age, https://age-encryption.org/v1) to a passphrase or to the
// custodian's age or SSH key ([Share.EncryptAge], [DecryptAge]). A passphrase is made by
// [GeneratePassphrase]: 10 words of the BIP-39 English list, 110 bits; one a custodian chooses is
// held to 100 bits by a conservative estimate ([PassphraseBits], [CheckChosenPassphrase]).
// [RecipientKey] puts a public key in one canonical form, so a key given twice is seen.
//
// [Create] makes a backup, [Restore] restores it, [Reshare] makes a new share set (and blob) from
// a quorum of old shares, so the old shares cannot open the new blob.
//
// No share value or key byte is ever put in an error, a log line or a String; secret byte
// slices are cleared after use.
//
// Only what drives a token (backup.go: Create, NewKey, Restore, Reshare) is built with cgo;
// manifests, share encodings and files are read and checked without it.
package backup
