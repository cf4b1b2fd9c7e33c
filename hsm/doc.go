// Package hsm is keyceremony's PKCS#11 layer: it opens a module, selects a
// token, logs in, generates keys with explicit templates, identifies keys
// without revealing them, wraps and unwraps them, probes what the token
// really accepts, and signs the ceremony transcript.
//
// It implements a subset of PKCS#11 v2.40 (Cryptographic Token Interface
// Base Specification and Current Mechanisms) over github.com/miekg/pkcs11,
// token selection by RFC 7512 "pkcs11:" URIs, and relies on the token for
// AES key wrap with padding (RFC 5649, CKM_AES_KEY_WRAP_PAD), RSA-OAEP
// (RFC 8017, CKM_RSA_PKCS_OAEP) and CKM_RSA_AES_KEY_WRAP.
//
// # The token keeps the target key in
//
// Not reading CKA_VALUE is not enough: anyone with the user PIN and
// pkcs11-tool could write an AES key of their own into the token and wrap
// the target under it. So the token is told, and enforces:
//
//   - target keys: CKA_SENSITIVE and CKA_EXTRACTABLE true (SoftHSM2 defaults
//     both to false), CKA_WRAP_WITH_TRUSTED true, CKA_DERIVE, CKA_COPYABLE,
//     CKA_MODIFIABLE, CKA_WRAP and CKA_UNWRAP false, all explicit, in
//     generation and in C_UnwrapKey alike, and read back and checked;
//   - the keys allowed to wrap them (a cloud's wrapping key, the backup key,
//     the ephemeral AES key of the RSA-AES construction) are CKA_TRUSTED,
//     which only the security officer may set;
//   - key-encryption keys wrap and unwrap, nothing else (no CKA_ENCRYPT,
//     CKA_DECRYPT, CKA_SIGN or CKA_VERIFY: wrap plus decrypt reads a key
//     out); a backup key kept in the token wraps only, since C_UnwrapKey
//     lets the caller choose CKA_SENSITIVE false for what it unwraps.
//
// What SoftHSM2 2.6.1 does, measured on it (hsm and cmd/keyceremony tests):
// it implements CKA_TRUSTED and CKA_WRAP_WITH_TRUSTED; a user's attempt to
// set CKA_TRUSTED gets CKR_ATTRIBUTE_READ_ONLY; wrapping a
// CKA_WRAP_WITH_TRUSTED key under any untrusted key, written with
// pkcs11-tool or generated, gets CKR_KEY_NOT_WRAPPABLE; the attribute cannot
// be turned off, and with CKA_COPYABLE and CKA_MODIFIABLE false C_CopyObject
// and C_SetAttributeValue get CKR_ACTION_PROHIBITED. The security officer
// sees and makes public objects only, so trusted keys are public
// (CKA_PRIVATE false) session objects: visible to this process alone, they
// outlive the security officer's logout and die with the session. Login
// state belongs to the application, so the security officer's step and the
// user's are two logins in sequence, and logging out ends the handles of
// the user's objects: keyceremony runs the security officer's step first,
// before anything of the ceremony exists. SoftHSM2 applies an unwrap
// template in order and refuses anything after CKA_MODIFIABLE false, so
// that goes last; private keys have no CKA_WRAP. SoftHSM2 defaults CKA_SIGN
// and CKA_VERIFY to true on secret keys, so key-encryption keys say false.
// When SoftHSM2 refuses an attribute during C_GenerateKey (CKA_TRUSTED from
// anyone but the security officer), it returns the error but keeps the
// half-made object, so the probe labels its objects and removes whatever
// carries the label. miekg/pkcs11 v1.1.2 cannot encode CKA_UNWRAP_TEMPLATE. The capability
// probe (Capabilities) tries each restriction and whether an untrusted key
// can wrap a CKA_WRAP_WITH_TRUSTED one, before login; Waive makes target
// keys without the restrictions a plan accepts the token refuses.
//
// # PKCS#8 inside AES key wrap
//
// Private keys leave the token as PKCS#8 PrivateKeyInfo wrapped with
// CKM_AES_KEY_WRAP_PAD. SoftHSM2 2.6.1 pads the DER with zeros to a multiple
// of 8 bytes before wrapping, and the RFC 5649 length field counts the
// padding, so the zeros are authenticated key material. Measured with
// ProbePKCS8: EC P-256 67 bytes of DER in a length field of 72, P-521 98 in
// 104, P-384 80 and secp256k1 64 exact (SoftHSM2 leaves the public key out
// of ECPrivateKey, so every key of a curve has one length); RSA varies with
// the key (RSA-2048 1216 to 1218 bytes in 1216 or 1224), so a key is exact
// only when its length happens to be a multiple of 8, which nobody can know
// without seeing the plaintext. No mechanism in SoftHSM2 wraps the exact DER,
// and stripping the padding would need the plaintext outside the token, so
// there is no workaround inside the token: the wrap package refuses such a
// target unless the plan allows the padding for it. The probe measures
// CKM_AES_KEY_WRAP_PAD, which the composed strategies use; a token's own
// CKM_RSA_AES_KEY_WRAP (SoftHSM2 has none) is taken to encode alike.
//
// What needs no token lives in pure packages that the auditor's build,
// which has no cgo, uses too: internal/hsmspec (key specs, token info,
// capabilities) and internal/spki (public key encoding and fingerprints,
// secp256k1 included).
//
// A Session is not safe for concurrent use: PKCS#11 operations such as
// C_SignInit/C_Sign are stateful per session.
package hsm
