// Package wrap turns a key generated in a PKCS#11 token into an import package for a cloud key
// manager: AWS KMS, Google Cloud KMS, Azure Key Vault / Managed HSM, HashiCorp Vault Transit and
// OCI Vault.
//
// Every cloud format is one of two constructions:
//
//   - direct: RSAES-OAEP(cloud public key, target), RFC 8017 section 7.1, empty label, MGF1 with
//     the OAEP hash; PKCS#11 CKM_RSA_PKCS_OAEP;
//   - RSA-AES: RSAES-OAEP(cloud public key, ephemeral AES-256 key) || AES-KWP(ephemeral key,
//     target), the KWP part being AES Key Wrap with Padding, RFC 5649; this is PKCS#11
//     CKM_RSA_AES_KEY_WRAP (PKCS#11 v2.40 Current Mechanisms), composed in the token from
//     CKM_RSA_PKCS_OAEP and CKM_AES_KEY_WRAP_PAD when the token lacks it.
//
// The key material is what the token emits with C_WrapKey: the raw bytes of a secret key, the
// PKCS#8 PrivateKeyInfo DER (RFC 5208) of a private key.
//
// The cloud side is described by the import parameters each cloud's CLI prints: AWS KMS
// GetParametersForImport (docs.aws.amazon.com/kms/latest/developerguide/importing-keys.html),
// Google Cloud KMS import jobs (cloud.google.com/kms/docs/importing-a-key), the Azure BYOK
// specification (learn.microsoft.com/azure/key-vault/keys/byok-specification), Vault Transit's
// wrapping key (developer.hashicorp.com/vault/docs/secrets/transit/key-wrapping-guide) and the OCI
// vault wrapping key (docs.oracle.com/iaas/Content/KeyManagement/Tasks/importingkeys.htm).
//
// Load reads them, Params.Validate checks them against the key to wrap before the token is
// touched, Wrap climbs the strategy ladder (native mechanism, composed in the token, host-assisted
// only when the plan allows it) and WritePackage writes the import package once, with the exact
// CLI command and a manifest of SHA-256 sums.
//
// Only the ladder (ladder.go: Prepare, Wrap, Describe) drives a token, and is built with cgo;
// the rest reads, checks and writes without it, for the auditor's and the connected side's build.
package wrap
