// Package attest checks, offline, that a cloud's wrapping key was generated in the cloud's HSM
// and cannot leave it, from the attestation the cloud publishes with the key: today the
// attestation of a Google Cloud KMS import job at protection level HSM.
//
// The format follows the published parsers below and has NOT yet been run against a live import
// job: the tests use a synthetic PKI of the same structure (testdata/gen.go). A check that fails
// on a real job may be this package's mistake as much as the job's; the refusal says which step.
//
// # Input
//
// The JSON of gcloud kms import-jobs describe --format=json: publicKey.pem (the wrapping key),
// attestation.format (CAVIUM_V1_COMPRESSED or CAVIUM_V2_COMPRESSED), attestation.content (base64
// of the gzip-compressed statement) and attestation.certChains.{caviumCerts, googleCardCerts,
// googlePartitionCerts} (PEM). The file gcloud writes with --attestation-file may stand for
// attestation.content; given both, they must be the same bytes.
//
// # The check, in order
//
//  1. caviumCerts holds a card certificate issued by a pinned Marvell root and a partition
//     certificate issued by that card certificate (issuer name equal to the issuer's subject,
//     signature verified with the issuer's key; CA flags and key usages are not required, as in
//     the published verifiers);
//  2. googleCardCerts holds a certificate for the same card key (equal SubjectPublicKeyInfo) and
//     googlePartitionCerts one for the same partition key, each issued by the pinned Google
//     root, as Google's verify_attestation_chains.py builds the owner chain; a certificate in a
//     list that is in no chain and is not a pinned root is refused;
//  3. attestation.content is one gzip member (nothing before or after it, at most 1 MiB
//     decompressed); the last 256 bytes of the statement are the signature over the rest, RSA
//     PKCS#1 v1.5 with SHA-256, and it must verify under the manufacturer's partition key and
//     under Google's (steps 1 and 2 make them one key, so a statement signed by only one of two
//     different partition keys is refused at step 2);
//  4. the attested private key object has CLASS private key (3) and KEY_TYPE RSA (0); the
//     MODULUS and PUBLIC_EXPONENT of the public key object (V2; of the private key object in
//     V1, which has no other) equal publicKey.pem's, and so do any others the statement holds; EXTRACTABLE is false, NEVER_EXTRACTABLE true, LOCAL true (generated
//     in the HSM) and SENSITIVE true.
//
// # Validity dates
//
// The pinned roots are trusted for what they are, by the SHA-256 of their DER, whatever their
// own validity dates: Marvell's 2015 LiquidSecurity root expired on 2025-11-16, and Marvell
// reissued it with the same key for 2024-2034, so a chain that verifies under one verifies under
// the other. Every other certificate (card, partition, both owner certificates) must be valid at
// the check time, which the caller gives (the ceremony's clock) and the result records.
//
// # Statement layouts
//
// Marvell does not publish the format. It is taken from the parsers that are public: Marvell's
// parse_v2.py (Marvell's "software key attestation" page, as copied into public repositories),
// Microsoft's Marvell parser and validator in Azure/azure-managed-hsm-key-attestation
// (src/vendor/marvell/marvell_parse_key_attestation.py: firmware 2.x and 3.x), and the
// TypeScript parser @peculiar/attestation-marvell. All integers are big-endian.
//
// An object is a header (handle, attribute count, object size: uint32 each) followed by count
// attributes, each a type and a length (uint32 each) and length bytes of value. Attribute numbers
// follow PKCS#11: CLASS 0x0000, KEY_TYPE 0x0100, SENSITIVE 0x0103, MODULUS 0x0120,
// PUBLIC_EXPONENT 0x0122, EXTRACTABLE 0x0162, LOCAL 0x0163, NEVER_EXTRACTABLE 0x0164. Booleans
// are one byte, 0 or 1; CLASS and KEY_TYPE are unsigned numbers of 1 to 8 bytes; the modulus and
// exponent are unsigned big-endian bytes.
//
// CAVIUM_V1_COMPRESSED (firmware 2.x in Microsoft's parser): a 20-byte header this package does
// not read, then one object at byte 20, the private key (an RSA private key object carries the
// modulus and exponent too).
//
// CAVIUM_V2_COMPRESSED (firmware 3.x; Marvell's parse_v2.py): a response header (response code,
// request flags, total size, buffer size: uint32 each); the total size must be the statement's
// length. The buffer is the last buffer-size bytes before the signature and starts with an info
// header (object version, request flags, offset of the first object, offset of the second:
// uint16 each, offsets from the info header); the first object is the public key, the second
// the private key. Every offset and length must stay inside the signed bytes; an attribute
// listed twice is refused.
//
// # Pinned roots
//
// roots/ holds their PEM; each must hash to its pin in roots.go or the package does not load.
//
//   - Marvell LiquidSecurity root, CN=localca.liquidsecurity.cavium.com, 2015-11-19 to
//     2025-11-16, SHA-256 975757f0...bd69cc28: published by Marvell in
//     liquid_security_certificate.zip (the URL Google's verify_attestation_chains.py downloads);
//     PEM from pkic/remote-key-attestation validation/gcp-cloudhsm.md, its subject equal to the
//     bytes Google's script compares.
//   - The same root reissued with the same key, 2024-07-25 to 2034-07-23, SHA-256
//     230143df...d70ee2f4: MARVELL_HSM_ROOT_CERTIFICATE in Microsoft's
//     marvell_validate_key_attestation.py.
//   - Google's Hawksbill Root v1 prod, 2017-07-01 to 2030-01-01, SHA-256 46b5fd35...df0de095:
//     OWNER_ROOT_CERT_PEM in GoogleCloudPlatform/python-docs-samples
//     kms/attestations/verify_attestation_chains.py (also served at
//     www.gstatic.com/cloudhsm/roots/global_1498867200.pem).
//
// Each PEM's self-signature verifies (openssl verify -no_check_time). Before relying on them, a
// maintainer compares them with Marvell's and Google's downloads.
//
// The checks are given the pinned roots only; the tests' synthetic roots reach the unexported
// check from inside this package and nothing else can pass them.
package attest
