package wrap

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

var (
	aes256  = hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256}
	aes128  = hsmspec.KeySpec{Type: hsmspec.AES, Bits: 128}
	hmac224 = hsmspec.KeySpec{Type: hsmspec.HMAC, Bits: 224}
	hmac256 = hsmspec.KeySpec{Type: hsmspec.HMAC, Bits: 256}
	hmac320 = hsmspec.KeySpec{Type: hsmspec.HMAC, Bits: 320}
	rsa2048 = hsmspec.KeySpec{Type: hsmspec.RSA, Bits: 2048}
	rsa4096 = hsmspec.KeySpec{Type: hsmspec.RSA, Bits: 4096}
	p256    = hsmspec.KeySpec{Type: hsmspec.EC, Curve: "P-256"}
	p384    = hsmspec.KeySpec{Type: hsmspec.EC, Curve: "P-384"}
	p521    = hsmspec.KeySpec{Type: hsmspec.EC, Curve: "P-521"}
	k1      = hsmspec.KeySpec{Type: hsmspec.EC, Curve: "secp256k1"}
)

// jsonText is s as it appears inside a JSON string.
func jsonText(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[1 : len(b)-1])
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestValidateAccepts checks every key type each profile takes, with the warnings it gives.
func TestValidateAccepts(t *testing.T) {
	rsaAESAWS := func() Target { tg := awsTarget(); tg.Algorithm = "RSA_AES_KEY_WRAP_SHA_256"; return tg }
	managed := func() Target { tg := azureTarget(); tg.KID = azureHSMKID; return tg }
	gcpAlg := func(alg string) func() Target {
		return func() Target { tg := gcpTarget(); tg.KeyAlgorithm = alg; return tg }
	}
	gcpDirect := func() Target {
		tg := gcpTarget()
		tg.Params = variant(t, "gcp-import-job.json", "RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_3072_SHA256")
		return tg
	}
	awsWarn := `target "aws-prod": AWS documents RSA_AES_KEY_WRAP_SHA_256 for RSA and ECC key material; for %s keys RSAES_OAEP_SHA_256 is the documented choice`
	for _, tc := range []struct {
		target func() Target
		keys   []hsmspec.KeySpec
		warn   string // with %s for the key
	}{
		{awsTarget, []hsmspec.KeySpec{aes256, hmac224, hmac256}, ""},
		{rsaAESAWS, []hsmspec.KeySpec{rsa2048, rsa4096, p256, p384, p521, k1}, ""},
		{rsaAESAWS, []hsmspec.KeySpec{aes256, hmac256}, awsWarn},
		{gcpTarget, []hsmspec.KeySpec{aes256, hmac224, hmac256, hmac320, p256, p384, k1}, ""},
		{gcpAlg("aes-128-gcm"), []hsmspec.KeySpec{aes128}, ""},
		{gcpDirect, []hsmspec.KeySpec{aes256, hmac256}, ""},
		{gcpAlg("rsa-sign-pss-2048-sha256"), []hsmspec.KeySpec{rsa2048}, ""},
		{azureTarget, []hsmspec.KeySpec{rsa2048, rsa4096, p256, p384, p521, k1}, ""},
		{managed, []hsmspec.KeySpec{aes128, aes256}, ""},
		{azureTarget, []hsmspec.KeySpec{aes256}, `target "azure-prod": Azure imports oct-HSM (AES) keys only into a Managed HSM, and kid names the key vault contoso-byok`},
		{vaultTarget, []hsmspec.KeySpec{aes128, aes256, hmac256, hmac320, rsa2048, p256, p384, p521}, ""},
		{ociTarget, []hsmspec.KeySpec{aes128, aes256, rsa2048, rsa4096}, ""},
	} {
		for _, key := range tc.keys {
			tg := tc.target()
			t.Run(tg.Name+"/"+tg.Algorithm+"/"+key.String(), func(t *testing.T) {
				warnings, err := mustLoad(t, tg).Validate(key, now)
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				if tc.warn != "" {
					want = []string{strings.ReplaceAll(tc.warn, "%s", key.String())}
				}
				if !slices.Equal(warnings, want) {
					t.Errorf("warnings %q, want %q", warnings, want)
				}
			})
		}
	}
}

// TestValidateRules checks each rule Validate enforces, with its exact error or warning.
func TestValidateRules(t *testing.T) {
	pem4096 := readFixture(t, "azure-kek.pem")
	pem2048 := string(pemBlock("PUBLIC KEY", []byte(readFixture(t, "aws-PublicKey.bin"))))
	awsFiles := func() Target {
		return Target{Name: "aws-files", Profile: ProfileAWS, PublicKey: "aws-PublicKey.bin", ImportToken: "aws-ImportToken.bin",
			KeyID: awsKeyARN, Algorithm: "RSAES_OAEP_SHA_256", WrappingKeySpec: "RSA_2048", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}
	}
	expires := func(validTo string) func() Target {
		return func() Target {
			tg := awsTarget()
			tg.ExpirationModel, tg.ValidTo = "KEY_MATERIAL_EXPIRES", validTo
			return tg
		}
	}
	with := func(base func() Target, f func(*Target)) func() Target {
		return func() Target { tg := base(); f(&tg); return tg }
	}
	for _, tc := range []struct {
		name   string
		target func() Target
		key    hsmspec.KeySpec
		now    time.Time
		err    string
		warn   string
	}{
		{"gcp job pending", with(gcpTarget, func(tg *Target) { tg.Params = "gcp-import-job-pending.json" }), aes256, now,
			`target "gcp-prod": import job ` + gcpJobFull + ` is still PENDING_GENERATION` + "\nhint: wait until gcloud kms import-jobs describe shows state ACTIVE, then save its output again", ""},
		{"gcp job expired", with(gcpTarget, func(tg *Target) { tg.Params = "gcp-import-job-expired.json" }), aes256, now,
			`target "gcp-prod": import job ` + gcpJobFull + ` is EXPIRED` + "\nhint: create a new import job (they expire 3 days after creation) and save its description", ""},
		{"gcp job other state", with(gcpTarget, func(tg *Target) {
			tg.Params = variant(t, "gcp-import-job.json", `"ACTIVE"`, `"IMPORT_JOB_STATE_UNSPECIFIED"`)
		}), aes256, now,
			`target "gcp-prod": import job ` + gcpJobFull + ` is in state IMPORT_JOB_STATE_UNSPECIFIED, not ACTIVE` + "\nhint: create a new import job and save its description", ""},
		{"oci wrapping key not active", with(ociTarget, func(tg *Target) {
			tg.Params = variant(t, "oci-wrapping-key.json", `"ACTIVE"`, `"DISABLED"`)
		}), aes256, now,
			`target "oci-prod": the vault's wrapping key is in state DISABLED, not ACTIVE` + "\nhint: wait for the vault to be ACTIVE, then save oci kms management wrapping-key get again", ""},
		{"rsa only", with(azureTarget, func(tg *Target) { tg.Params = "azure-kek-ec.pem" }), rsa2048, now,
			`target "azure-prod": the wrapping public key is EC_P-256, not RSA: every cloud import keyceremony supports wraps under RSA` +
				"\nhint: fetch the import parameters again; save the KEK's public key with az keyvault key download --name KEK --vault-name V --file kek.pem", ""},
		{"aws spec mismatch", with(awsTarget, func(tg *Target) { tg.WrappingKeySpec = "RSA_4096" }), aes256, now,
			`target "aws-prod": the wrapping public key is RSA_2048 but wrapping_key_spec says RSA_4096` + "\nhint: give the WrappingKeySpec the parameters were fetched with, or fetch them again", ""},
		{"gcp size", with(gcpTarget, func(tg *Target) {
			tg.Params = variant(t, "gcp-import-job.json", "RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_4096_SHA1_AES_256")
		}), aes256, now,
			`target "gcp-prod": the wrapping public key is RSA-3072; RSA_OAEP_4096_SHA1_AES_256 uses RSA-4096` +
				"\nhint: fetch the import parameters again; save the output of gcloud kms import-jobs describe JOB --location L --keyring R --format=json", ""},
		{"vault size", with(vaultTarget, func(tg *Target) {
			tg.Params = variant(t, "vault-wrapping-key.json", jsonText(t, pem4096), jsonText(t, pem2048))
		}), aes256, now,
			`target "vault-prod": the wrapping public key is RSA-2048; hash_function=SHA256 uses RSA-4096` +
				"\nhint: fetch the import parameters again; save the output of vault read -format=json transit/wrapping_key", ""},
		{"oci size", with(ociTarget, func(tg *Target) {
			tg.Params = variant(t, "oci-wrapping-key.json", jsonText(t, strings.TrimSpace(pem4096)), jsonText(t, strings.TrimSpace(pem2048)))
		}), aes256, now,
			`target "oci-prod": the wrapping public key is RSA-2048; RSA_OAEP_AES_SHA256 uses RSA-4096` +
				"\nhint: fetch the import parameters again; save the output of oci kms management wrapping-key get --endpoint MANAGEMENT_ENDPOINT", ""},
		{"exponent 3", with(azureTarget, func(tg *Target) {
			k := mustLoad(t, azureTarget()).rsaKey()
			der, _ := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: k.N, E: 3})
			tg.Params = filepath.Join(t.TempDir(), "e3.pem")
			os.WriteFile(tg.Params, pemBlock("PUBLIC KEY", der), 0o644)
		}), aes256, now,
			`target "azure-prod": the wrapping public key has public exponent 3; every cloud's wrapping keys use 65537` +
				"\nhint: this key was not made by the cloud: fetch the import parameters again; save the KEK's public key with az keyvault key download --name KEK --vault-name V --file kek.pem", ""},
		{"expired", awsTarget, aes256, now.Add(25 * time.Hour),
			`target "aws-prod": the import parameters expired at 2026-11-28T18:00:00Z` +
				"\nhint: fetch new ones; save the output of aws kms get-parameters-for-import --output json, or give public_key and import_token", ""},
		{"gcp expired by time", gcpTarget, aes256, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
			`target "gcp-prod": the import parameters expired at 2026-11-30T09:00:00Z` +
				"\nhint: fetch new ones; save the output of gcloud kms import-jobs describe JOB --location L --keyring R --format=json", ""},
		{"expires within the hour", awsTarget, aes256, time.Date(2026, 11, 28, 17, 30, 0, 0, time.UTC), "",
			`target "aws-prod": the import parameters expire at 2026-11-28T18:00:00Z, in 30m0s: upload the package before then`},
		{"aws expiry unknown", awsFiles, aes256, now, "",
			`target "aws-files": the expiry of the import parameters is unknown (no parameters_valid_to); AWS import tokens last 24 hours`},
		{"aws valid_to past", expires("2026-11-01T00:00:00Z"), aes256, now,
			`target "aws-prod": valid_to 2026-11-01T00:00:00Z is not in the future` + "\nhint: give a later valid_to, at most 365 days ahead", ""},
		{"aws valid_to too far", expires("2027-11-28T00:00:00Z"), aes256, now,
			`target "aws-prod": valid_to 2027-11-28T00:00:00Z is more than 365 days ahead, which AWS KMS refuses` +
				"\nhint: give a valid_to within 365 days, or KEY_MATERIAL_DOES_NOT_EXPIRE", ""},
		{"aws aes-128", awsTarget, aes128, now,
			`target "aws-prod": AWS KMS imports symmetric keys of 32 bytes (SYMMETRIC_DEFAULT); AES-128 has 16` + "\nhint: generate an AES-256 key for AWS", ""},
		{"aws hmac size", awsTarget, hmac320, now,
			`target "aws-prod": AWS KMS imports HMAC_224, HMAC_256, HMAC_384 and HMAC_512 keys; HMAC-320 is none of them` +
				"\nhint: generate an HMAC key of 224, 256, 384 or 512 bits", ""},
		{"aws rsa needs rsa-aes", awsTarget, rsa2048, now,
			`target "aws-prod": AWS KMS imports RSA private keys only with an RSA_AES wrapping algorithm, not RSAES_OAEP_SHA_1` +
				"\nhint: fetch import parameters with RSA_AES_KEY_WRAP_SHA_256 (or RSA_AES_KEY_WRAP_SHA_1)", ""},
		{"aws p-521 capacity", with(awsTarget, func(tg *Target) { tg.Algorithm = "RSAES_OAEP_SHA_256" }), p521, now,
			`target "aws-prod": EC P-521 key material (PKCS#8, about 241 bytes) does not fit one RSAES_OAEP_SHA_256 block under RSA-2048 (at most 190 bytes)` +
				"\nhint: fetch import parameters with wrapping key spec RSA_3072 or RSA_4096, or with an RSA_AES_KEY_WRAP algorithm", ""},
		{"aws ec direct", awsTarget, p384, now,
			`target "aws-prod": EC P-384 is a private key, and PKCS#11 CKM_RSA_PKCS_OAEP wraps only secret keys, so RSAES_OAEP_SHA_1 cannot carry it out of a token` +
				"\nhint: fetch import parameters with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256", ""},
		{"gcp ec direct", with(gcpTarget, func(tg *Target) {
			tg.Params = variant(t, "gcp-import-job.json", "RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_3072_SHA256")
		}), p256, now,
			`target "gcp-prod": EC P-256 is a private key, and PKCS#11 CKM_RSA_PKCS_OAEP wraps only secret keys, so RSA_OAEP_3072_SHA256 cannot carry it out of a token` +
				"\nhint: create an import job with an RSA_OAEP_*_AES_256 method", ""},
		{"gcp p-521", gcpTarget, p521, now,
			`target "gcp-prod": Cloud KMS has no algorithm for EC P-521 keys` + "\nhint: use P-256, P-384 or secp256k1 for Google Cloud", ""},
		{"gcp direct rsa", with(gcpTarget, func(tg *Target) {
			tg.Params = variant(t, "gcp-import-job.json", "RSA_OAEP_3072_SHA1_AES_256", "RSA_OAEP_3072_SHA256")
		}), rsa2048, now,
			`target "gcp-prod": import method RSA_OAEP_3072_SHA256 wraps directly and cannot carry RSA keys` + "\nhint: create an import job with an RSA_OAEP_*_AES_256 method", ""},
		{"gcp software", with(gcpTarget, func(tg *Target) {
			tg.Params = variant(t, "gcp-import-job.json", `"HSM"`, `"SOFTWARE"`)
		}), aes256, now, "",
			`target "gcp-prod": import job ` + gcpJobFull + ` has protection level SOFTWARE: the key will not live in a Cloud HSM`},
		{"gcp key algorithm missing", gcpTarget, rsa2048, now,
			`target "gcp-prod": key_algorithm is missing: RSA-2048 keys can be imported as rsa-sign-pss-2048-sha256, rsa-sign-pkcs1-2048-sha256, rsa-sign-raw-pkcs1-2048, rsa-decrypt-oaep-2048-sha256, rsa-decrypt-oaep-2048-sha1` +
				"\nhint: add key_algorithm to the target", ""},
		{"gcp key algorithm wrong", with(gcpTarget, func(tg *Target) { tg.KeyAlgorithm = "ec-sign-p256-sha256" }), aes256, now,
			`target "gcp-prod": key_algorithm "ec-sign-p256-sha256" is not a Cloud KMS algorithm for AES-256 keys` +
				"\nhint: use one of google-symmetric-encryption, aes-256-gcm, aes-256-cbc, aes-256-ctr", ""},
		{"azure hmac", azureTarget, hmac256, now,
			`target "azure-prod": Azure Key Vault cannot import HMAC keys` + "\nhint: import RSA, EC or (on Managed HSM) AES keys into Azure", ""},
		{"vault hmac size", vaultTarget, hmac224, now,
			`target "vault-prod": Vault Transit imports HMAC keys of 32 to 512 bytes; HMAC-224 has 28` + "\nhint: generate an HMAC key of at least 256 bits", ""},
		{"vault secp256k1", vaultTarget, k1, now,
			`target "vault-prod": Vault Transit has no key type for secp256k1` + "\nhint: use P-256, P-384 or P-521 for Vault", ""},
		{"vault type wrong", with(vaultTarget, func(tg *Target) { tg.KeyAlgorithm = "aes128-gcm96" }), aes256, now,
			`target "vault-prod": key_algorithm "aes128-gcm96" is not a Vault key type for AES-256 keys` + "\nhint: use one of aes256-gcm96, chacha20-poly1305", ""},
		{"oci ec", ociTarget, p256, now,
			`target "oci-prod": OCI Vault cannot import EC keys` + "\nhint: import AES or RSA keys into OCI", ""},
		{"oci hmac", ociTarget, hmac256, now,
			`target "oci-prod": OCI Vault imports only AES and RSA keys, not HMAC-256` + "\nhint: import AES or RSA keys into OCI", ""},
		{"oci direct rsa", with(ociTarget, func(tg *Target) { tg.Algorithm = "RSA_OAEP_SHA256" }), rsa2048, now,
			`target "oci-prod": RSA_OAEP_SHA256 wraps directly and cannot carry RSA private keys` + "\nhint: use algorithm RSA_OAEP_AES_SHA256", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := mustLoad(t, tc.target()).Validate(tc.key, tc.now)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error\n%v\nwant\n%s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(warnings, []string{tc.warn}) {
				t.Errorf("warnings %q, want %q", warnings, tc.warn)
			}
		})
	}
}
