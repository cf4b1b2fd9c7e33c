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
// Target key material never leaves the token in clear: keys are generated
// with CKA_SENSITIVE and CKA_EXTRACTABLE set explicitly (SoftHSM2 defaults
// both to false) and leave only through C_WrapKey. No function here reads
// CKA_VALUE.
//
// What needs no token lives in pure packages that the auditor's build,
// which has no cgo, uses too: internal/hsmspec (key specs, token info,
// capabilities) and internal/spki (public key encoding and fingerprints,
// secp256k1 included).
//
// A Session is not safe for concurrent use: PKCS#11 operations such as
// C_SignInit/C_Sign are stateful per session.
package hsm
