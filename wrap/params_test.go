package wrap

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// now is the clock of the tests that read the fixtures: a day before they expire.
var now = time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)

const (
	azureKID     = "https://contoso-byok.vault.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef"
	azureHSMKID  = "https://contoso-mhsm.managedhsm.azure.net/keys/KEKforBYOK/0123456789abcdef0123456789abcdef"
	ociEndpoint  = "https://bbqe2hfkaacuu-management.kms.eu-frankfurt-1.oraclecloud.com"
	compartment  = "ocid1.compartment.oc1..aaaaaaaaexamplecompartment"
	awsKeyARN    = "arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	gcpJobFull   = "projects/acme-kms/locations/europe-west2/keyRings/ceremony/importJobs/job-2026-11"
	fixtureValid = "2026-11-28T18:00:00.123Z"
)

func awsTarget() Target {
	return Target{Name: "aws-prod", Profile: ProfileAWS, Params: "aws-get-parameters-for-import.json",
		Algorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}
}

func gcpTarget() Target {
	return Target{Name: "gcp-prod", Profile: ProfileGCP, Params: "gcp-import-job.json", KeyName: "payments"}
}

func azureTarget() Target {
	return Target{Name: "azure-prod", Profile: ProfileAzure, Params: "azure-kek.pem", KID: azureKID, KeyName: "payments"}
}

func vaultTarget() Target {
	return Target{Name: "vault-prod", Profile: ProfileVault, Params: "vault-wrapping-key.json", KeyName: "payments"}
}

func ociTarget() Target {
	return Target{Name: "oci-prod", Profile: ProfileOCI, Params: "oci-wrapping-key.json", Algorithm: "RSA_OAEP_AES_SHA256",
		CompartmentID: compartment, KeyName: "payments", Endpoint: ociEndpoint}
}

// variant copies a fixture into a temporary folder with old replaced by new, and returns its path.
func variant(t *testing.T, name, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// withBytes copies a fixture into a temporary folder through change, and returns its path.
func withBytes(t *testing.T, name string, change func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, change(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// variantJSON copies a JSON fixture with one top-level field set to value.
func variantJSON(t *testing.T, name, field string, value any) string {
	t.Helper()
	return withBytes(t, name, func(b []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		m[field] = value
		out, _ := json.Marshal(m)
		return out
	})
}

func mustLoad(t *testing.T, tg Target) *Params {
	t.Helper()
	p, err := Load(tg, "testdata")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return p
}

func TestLoadFixtures(t *testing.T) {
	token, err := os.ReadFile("testdata/aws-ImportToken.bin")
	if err != nil {
		t.Fatal(err)
	}
	separate := Target{Name: "aws-files", Profile: ProfileAWS, PublicKey: "aws-PublicKey.bin", ImportToken: "aws-ImportToken.bin",
		KeyID: awsKeyARN, ParametersValidTo: "2026-11-28T18:00:00Z", Algorithm: "RSA_AES_KEY_WRAP_SHA_256",
		WrappingKeySpec: "RSA_2048", ExpirationModel: "KEY_MATERIAL_EXPIRES", ValidTo: "2027-06-30T00:00:00Z"}
	epoch := awsTarget()
	epoch.Params = "aws-get-parameters-for-import-epoch.json"
	ociPEM := ociTarget()
	ociPEM.Params = "oci-wrapping-key.pem"
	for _, tc := range []struct {
		target   Target
		alg      string
		spec     string
		validTo  string
		bits     int
		checkExt func(t *testing.T, p *Params)
	}{
		{awsTarget(), "RSAES_OAEP_SHA_1", "RSA_2048", fixtureValid, 2048, func(t *testing.T, p *Params) {
			if p.keyID != awsKeyARN || !bytes.Equal(p.importToken, token) {
				t.Errorf("key ID %q, token of %d bytes", p.keyID, len(p.importToken))
			}
		}},
		{epoch, "RSAES_OAEP_SHA_1", "RSA_2048", fixtureValid, 2048, nil},
		{separate, "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", "2026-11-28T18:00:00Z", 2048, func(t *testing.T, p *Params) {
			if p.keyID != awsKeyARN || !bytes.Equal(p.importToken, token) || !p.materialTo.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("key ID %q, token of %d bytes, material valid to %v", p.keyID, len(p.importToken), p.materialTo)
			}
		}},
		{gcpTarget(), "RSA_OAEP_3072_SHA1_AES_256", "RSA_3072", "2026-11-30T09:00:00.318531Z", 3072, func(t *testing.T, p *Params) {
			j := p.job
			if j.name != gcpJobFull || j.project != "acme-kms" || j.location != "europe-west2" || j.keyRing != "ceremony" ||
				j.jobID != "job-2026-11" || j.state != "ACTIVE" || j.protectionLevel != "HSM" {
				t.Errorf("job %+v", j)
			}
		}},
		{azureTarget(), "CKM_RSA_AES_KEY_WRAP", "RSA_4096", "", 4096, func(t *testing.T, p *Params) {
			if p.kekVault != "contoso-byok" || p.managed {
				t.Errorf("vault %q, managed %v", p.kekVault, p.managed)
			}
		}},
		{vaultTarget(), "hash_function=SHA256", "RSA_4096", "", 4096, nil},
		{ociTarget(), "RSA_OAEP_AES_SHA256", "RSA_4096", "", 4096, func(t *testing.T, p *Params) {
			if p.ociState != "ACTIVE" {
				t.Errorf("state %q", p.ociState)
			}
		}},
		{ociPEM, "RSA_OAEP_AES_SHA256", "RSA_4096", "", 4096, nil},
	} {
		t.Run(tc.target.Name+"/"+filepath.Base(tc.target.Params), func(t *testing.T) {
			p := mustLoad(t, tc.target)
			if p.Algorithm != tc.alg || p.WrappingKeySpec != tc.spec {
				t.Errorf("algorithm %q, spec %q; want %q, %q", p.Algorithm, p.WrappingKeySpec, tc.alg, tc.spec)
			}
			var want time.Time
			if tc.validTo != "" {
				want, _ = time.Parse(time.RFC3339Nano, tc.validTo)
			}
			if !p.ValidTo.Equal(want) {
				t.Errorf("ValidTo %v, want %v", p.ValidTo, want)
			}
			if k, ok := p.pub.(*rsa.PublicKey); !ok || k.N.BitLen() != tc.bits {
				t.Errorf("public key %T", p.pub)
			}
			if !strings.HasPrefix(p.Fingerprint(), "SHA256:") || len(p.Fingerprint()) != 7+64 {
				t.Errorf("fingerprint %q", p.Fingerprint())
			}
			if tc.checkExt != nil {
				tc.checkExt(t, p)
			}
		})
	}
}

// TestLoadErrors checks each rule Load enforces, with its exact message.
func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func() Target
		want   string
	}{
		{"unknown profile", func() Target { tg := awsTarget(); tg.Profile = "ibm"; return tg },
			`target "aws-prod": unknown profile "ibm"` + "\nhint: use one of aws, gcp, azure, vault, oci"},
		{"field of another profile", func() Target { tg := awsTarget(); tg.KID = azureKID; return tg },
			`target "aws-prod": kid does not apply to profile aws` + "\nhint: remove it from the target"},
		{"no params", func() Target { tg := vaultTarget(); tg.Params = ""; return tg },
			`target "vault-prod": params is missing` + "\nhint: save the output of vault read -format=json transit/wrapping_key"},
		{"missing file", func() Target { tg := vaultTarget(); tg.Params = "nope.json"; return tg },
			`target "vault-prod": params file testdata/nope.json does not exist` + "\nhint: paths in the plan are relative to the plan's folder"},
		{"not aws json", func() Target { tg := awsTarget(); tg.Params = "vault-wrapping-key.json"; return tg },
			`target "aws-prod": testdata/vault-wrapping-key.json is not the output of aws kms get-parameters-for-import --output json: KeyId, ImportToken, PublicKey, ParametersValidTo missing` +
				"\nhint: save the output of aws kms get-parameters-for-import --output json, or give public_key and import_token"},
		{"aws params and files", func() Target { tg := awsTarget(); tg.ImportToken = "aws-ImportToken.bin"; return tg },
			`target "aws-prod": give either params or public_key, import_token and key_id, not both` + "\nhint: params already holds the key ID, public key, import token and expiry"},
		{"aws files incomplete", func() Target {
			tg := awsTarget()
			tg.Params, tg.PublicKey = "", "aws-PublicKey.bin"
			return tg
		}, `target "aws-prod": public_key, import_token and key_id go together` + "\nhint: give all three, or params instead"},
		{"aws public key not a key", func() Target {
			tg := awsTarget()
			tg.Params, tg.PublicKey, tg.ImportToken, tg.KeyID = "", "aws-ImportToken.bin", "aws-ImportToken.bin", awsKeyARN
			return tg
		}, `target "aws-prod": public_key testdata/aws-ImportToken.bin is not a public key: not a SubjectPublicKeyInfo` +
			"\nhint: decode the PublicKey of get-parameters-for-import with base64 -d into a file"},
		{"aws token empty", func() Target {
			tg := awsTarget()
			empty := filepath.Join(t.TempDir(), "empty")
			if err := os.WriteFile(empty, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			tg.Params, tg.PublicKey, tg.ImportToken, tg.KeyID = "", "aws-PublicKey.bin", empty, awsKeyARN
			return tg
		}, "is not an AWS import token: it holds 0 bytes; an AWS import token has 256 to 2048\nhint: save the ImportToken of get-parameters-for-import decoded: jq -r .ImportToken params.json | base64 -d > token.bin"},
		{"aws token as base64 text", func() Target {
			tg := awsTarget()
			tok, _ := os.ReadFile("testdata/aws-ImportToken.bin")
			b64 := filepath.Join(t.TempDir(), "token.b64")
			os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(tok)+"\n"), 0o644)
			tg.Params, tg.PublicKey, tg.ImportToken, tg.KeyID = "", "aws-PublicKey.bin", b64, awsKeyARN
			return tg
		}, "token.b64 is not an AWS import token: it is base64 text, not the token's bytes; decode it with base64 -d\nhint: save the ImportToken of get-parameters-for-import decoded: jq -r .ImportToken params.json | base64 -d > token.bin"},
		{"aws token too short in params", func() Target {
			tg := awsTarget()
			tg.Params = variantJSON(t, "aws-get-parameters-for-import.json", "ImportToken", base64.StdEncoding.EncodeToString(make([]byte, 100)))
			return tg
		}, "aws-get-parameters-for-import.json is not the output of aws kms get-parameters-for-import --output json: ImportToken holds 100 bytes; an AWS import token has 256 to 2048\nhint: "},
		{"aws params with a BOM", func() Target {
			tg := awsTarget()
			tg.Params = withBytes(t, "aws-get-parameters-for-import.json", func(b []byte) []byte { return append([]byte{0xef, 0xbb, 0xbf}, b...) })
			return tg
		}, "aws-get-parameters-for-import.json is not the output of aws kms get-parameters-for-import --output json: it starts with a UTF-8 BOM; save it without one (PowerShell: Out-File -Encoding utf8NoBOM)\nhint: "},
		{"gcp params in UTF-16", func() Target {
			tg := gcpTarget()
			tg.Params = withBytes(t, "gcp-import-job.json", func(b []byte) []byte {
				out := []byte{0xff, 0xfe}
				for _, c := range b {
					out = append(out, c, 0)
				}
				return out
			})
			return tg
		}, "gcp-import-job.json is not the output of gcloud kms import-jobs describe --format=json: it is UTF-16 text; save it as UTF-8 (PowerShell: Out-File -Encoding utf8NoBOM, or redirect from cmd.exe)\nhint: "},
		{"vault params as YAML", func() Target {
			tg := vaultTarget()
			tg.Params = withBytes(t, "vault-wrapping-key.json", func([]byte) []byte {
				return []byte("request_id: 1\ndata:\n  public_key: |\n    -----BEGIN PUBLIC KEY-----\n")
			})
			return tg
		}, "vault-wrapping-key.json is not the output of vault read -format=json transit/wrapping_key: this is YAML, give JSON (--output json, --format=json or -format=json)\nhint: "},
		{"aws bad parameters_valid_to", func() Target {
			tg := awsTarget()
			tg.Params, tg.PublicKey, tg.ImportToken, tg.KeyID, tg.ParametersValidTo = "", "aws-PublicKey.bin", "aws-ImportToken.bin", awsKeyARN, "tomorrow"
			return tg
		}, `target "aws-prod": parameters_valid_to "tomorrow" is not an RFC 3339 time` + "\nhint: copy ParametersValidTo, e.g. 2026-11-28T09:00:00Z"},
		{"aws no algorithm", func() Target { tg := awsTarget(); tg.Algorithm = ""; return tg },
			`target "aws-prod": algorithm is missing` + "\nhint: give the WrappingAlgorithm asked of get-parameters-for-import: RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256"},
		{"aws pkcs1", func() Target { tg := awsTarget(); tg.Algorithm = "RSAES_PKCS1_V1_5"; return tg },
			`target "aws-prod": AWS KMS no longer accepts RSAES_PKCS1_V1_5 (since 2023-10-10)` + "\nhint: fetch new import parameters with RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256"},
		{"aws unknown algorithm", func() Target { tg := awsTarget(); tg.Algorithm = "SM2PKE"; return tg },
			`target "aws-prod": algorithm "SM2PKE" is not an AWS KMS wrapping algorithm keyceremony supports` + "\nhint: use one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256"},
		{"aws no spec", func() Target { tg := awsTarget(); tg.WrappingKeySpec = ""; return tg },
			`target "aws-prod": wrapping_key_spec is missing` + "\nhint: give the WrappingKeySpec asked of get-parameters-for-import: RSA_2048, RSA_3072 or RSA_4096"},
		{"aws bad spec", func() Target { tg := awsTarget(); tg.WrappingKeySpec = "SM2"; return tg },
			`target "aws-prod": wrapping_key_spec "SM2" is not one keyceremony supports` + "\nhint: use RSA_2048, RSA_3072 or RSA_4096"},
		{"aws no expiration model", func() Target { tg := awsTarget(); tg.ExpirationModel = ""; return tg },
			`target "aws-prod": expiration_model is missing` + "\nhint: say KEY_MATERIAL_EXPIRES (with valid_to) or KEY_MATERIAL_DOES_NOT_EXPIRE; AWS would default to KEY_MATERIAL_EXPIRES"},
		{"aws bad expiration model", func() Target { tg := awsTarget(); tg.ExpirationModel = "NEVER"; return tg },
			`target "aws-prod": expiration_model "NEVER" is not KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE`},
		{"aws valid_to without expiry", func() Target { tg := awsTarget(); tg.ValidTo = "2027-01-01T00:00:00Z"; return tg },
			`target "aws-prod": valid_to is set but expiration_model is KEY_MATERIAL_DOES_NOT_EXPIRE` + "\nhint: remove valid_to, or use KEY_MATERIAL_EXPIRES"},
		{"aws expires without valid_to", func() Target { tg := awsTarget(); tg.ExpirationModel = "KEY_MATERIAL_EXPIRES"; return tg },
			`target "aws-prod": expiration_model KEY_MATERIAL_EXPIRES needs valid_to` + "\nhint: add valid_to: an RFC 3339 time in whole seconds, at most 365 days ahead"},
		{"aws valid_to fractional", func() Target {
			tg := awsTarget()
			tg.ExpirationModel, tg.ValidTo = "KEY_MATERIAL_EXPIRES", "2027-01-01T00:00:00.5Z"
			return tg
		}, `target "aws-prod": valid_to "2027-01-01T00:00:00.5Z" is not an RFC 3339 time in whole seconds` + "\nhint: write it like 2027-06-30T00:00:00Z"},
		{"gcp not json", func() Target { tg := gcpTarget(); tg.Params = "azure-kek.pem"; return tg },
			`target "gcp-prod": testdata/azure-kek.pem is not the output of gcloud kms import-jobs describe --format=json: not JSON: line 1: invalid character '-' in numeric literal` +
				"\nhint: save the output of gcloud kms import-jobs describe JOB --location L --keyring R --format=json"},
		{"gcp hpke method", func() Target {
			tg := gcpTarget()
			tg.Params = variant(t, "gcp-import-job.json", "RSA_OAEP_3072_SHA1_AES_256", "HPKE_KEM_XWING_HKDF_SHA256_AES_256_GCM")
			return tg
		}, `target "gcp-prod": import job ` + gcpJobFull + ` uses import method HPKE_KEM_XWING_HKDF_SHA256_AES_256_GCM, which keyceremony does not support` +
			"\nhint: create an import job with one of RSA_OAEP_3072_SHA1_AES_256, RSA_OAEP_4096_SHA1_AES_256, RSA_OAEP_3072_SHA256_AES_256, RSA_OAEP_4096_SHA256_AES_256, RSA_OAEP_3072_SHA256, RSA_OAEP_4096_SHA256"},
		{"gcp algorithm mismatch", func() Target { tg := gcpTarget(); tg.Algorithm = "RSA_OAEP_3072_SHA256"; return tg },
			`target "gcp-prod": algorithm RSA_OAEP_3072_SHA256 does not match the import job's method RSA_OAEP_3072_SHA1_AES_256` + "\nhint: remove algorithm, or give the params of the import job you meant"},
		{"gcp key name", func() Target { tg := gcpTarget(); tg.KeyName = "projects/x/key"; return tg },
			`target "gcp-prod": key_name "projects/x/key" is not a Cloud KMS key ID` + "\nhint: give the ID of the crypto key (in key ring ceremony) to import into: letters, digits, _ and -, at most 63"},
		{"azure not a key", func() Target { tg := azureTarget(); tg.Params = "README.md"; return tg },
			`target "azure-prod": testdata/README.md is not a public key: not a SubjectPublicKeyInfo` +
				"\nhint: save the KEK's public key with az keyvault key download --name KEK --vault-name V --file kek.pem"},
		{"azure algorithm", func() Target { tg := azureTarget(); tg.Algorithm = "RSA_AES_KEY_WRAP_256"; return tg },
			`target "azure-prod": algorithm "RSA_AES_KEY_WRAP_256" is not the Azure BYOK transform` + "\nhint: remove algorithm; Azure BYOK uses CKM_RSA_AES_KEY_WRAP"},
		{"azure kid unversioned", func() Target {
			tg := azureTarget()
			tg.KID = "https://contoso-byok.vault.azure.net/keys/KEKforBYOK"
			return tg
		}, `target "azure-prod": kid "https://contoso-byok.vault.azure.net/keys/KEKforBYOK" has no key version: Azure BYOK needs the versioned KEK identifier` +
			"\nhint: copy key.kid of az keyvault key show --name KEK --vault-name V (or --hsm-name H); it ends in the key version"},
		{"azure kid missing", func() Target { tg := azureTarget(); tg.KID = ""; return tg },
			`target "azure-prod": kid "" is missing` + "\nhint: copy key.kid of az keyvault key show --name KEK --vault-name V (or --hsm-name H); it ends in the key version"},
		{"azure kid http", func() Target { tg := azureTarget(); tg.KID = strings.Replace(azureKID, "https", "http", 1); return tg },
			`is not an https key identifier`},
		{"azure kid secret", func() Target {
			tg := azureTarget()
			tg.KID = strings.Replace(azureKID, "/keys/", "/secrets/", 1)
			return tg
		},
			`is not a key identifier (https://VAULT/keys/NAME/VERSION)`},
		{"azure key name", func() Target { tg := azureTarget(); tg.KeyName = "my_key"; return tg },
			`target "azure-prod": key_name "my_key" is not an Azure key name` + "\nhint: give the name of the key to create: letters, digits and -, at most 127"},
		{"vault not json", func() Target { tg := vaultTarget(); tg.Params = "oci-wrapping-key.json"; return tg },
			`target "vault-prod": testdata/oci-wrapping-key.json is not the output of vault read -format=json transit/wrapping_key: data.public_key missing` +
				"\nhint: save the output of vault read -format=json transit/wrapping_key"},
		{"vault hash", func() Target { tg := vaultTarget(); tg.HashFunction = "MD5"; return tg },
			`target "vault-prod": hash_function "MD5" is not one Vault accepts` + "\nhint: use SHA1, SHA224, SHA256, SHA384 or SHA512"},
		{"vault key name", func() Target { tg := vaultTarget(); tg.KeyName = ""; return tg },
			`target "vault-prod": key_name "" is not a Vault Transit key name` + "\nhint: give the name of the key to create, e.g. payments-2026"},
		{"vault mount", func() Target { tg := vaultTarget(); tg.Mount = "/transit/"; return tg },
			`target "vault-prod": mount "/transit/" is not a Vault mount path` + "\nhint: give the Transit mount without slashes at either end, e.g. transit"},
		{"oci not a key", func() Target { tg := ociTarget(); tg.Params = "aws-ImportToken.bin"; return tg },
			`target "oci-prod": testdata/aws-ImportToken.bin is neither the output of oci kms management wrapping-key get nor a public key PEM: not a SubjectPublicKeyInfo` +
				"\nhint: save the output of oci kms management wrapping-key get --endpoint MANAGEMENT_ENDPOINT"},
		{"oci no algorithm", func() Target { tg := ociTarget(); tg.Algorithm = ""; return tg },
			`target "oci-prod": algorithm is missing` + "\nhint: use RSA_OAEP_AES_SHA256 (any key) or RSA_OAEP_SHA256 (AES keys)"},
		{"oci bad algorithm", func() Target { tg := ociTarget(); tg.Algorithm = "AES_KEY_WRAP"; return tg },
			`target "oci-prod": algorithm "AES_KEY_WRAP" is not an OCI wrapping algorithm` + "\nhint: use RSA_OAEP_AES_SHA256, RSA_OAEP_SHA256"},
		{"oci compartment", func() Target { tg := ociTarget(); tg.CompartmentID = "ocid1.vault.oc1..x"; return tg },
			`target "oci-prod": compartment_id "ocid1.vault.oc1..x" is not a compartment OCID` + "\nhint: give the OCID of the compartment to create the key in (ocid1.compartment.oc1..)"},
		{"oci display name", func() Target { tg := ociTarget(); tg.KeyName = ""; return tg },
			`target "oci-prod": key_name is missing or longer than 255 characters` + "\nhint: give the display name of the key to create"},
		{"oci endpoint", func() Target { tg := ociTarget(); tg.Endpoint = "kms.example"; return tg },
			`target "oci-prod": endpoint "kms.example" is not the vault's https management endpoint` + "\nhint: copy management-endpoint of oci kms management vault get --vault-id VAULT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.target(), "testdata")
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want && !(strings.Contains(got, tc.want) && !strings.HasPrefix(tc.want, "target ")) {
				t.Errorf("error\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestParseAWSTime(t *testing.T) {
	for in, want := range map[string]string{
		`"2026-11-28T18:00:00.123000+00:00"`: "2026-11-28T18:00:00.123Z",
		`"2026-11-28T19:00:00+01:00"`:        "2026-11-28T18:00:00Z",
		`1795888800.123`:                     "2026-11-28T18:00:00.123Z",
		`1795888800`:                         "2026-11-28T18:00:00Z",
	} {
		got, err := parseAWSTime([]byte(in))
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("parseAWSTime(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{`"tomorrow"`, `-5`, `true`, `1e300`} {
		if _, err := parseAWSTime([]byte(in)); err == nil {
			t.Errorf("parseAWSTime(%s) succeeded", in)
		}
	}
}

func TestParsePublicKeyForms(t *testing.T) {
	der, err := os.ReadFile("testdata/aws-PublicKey.bin")
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := parsePublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := k.(*rsa.PublicKey)
	for name, in := range map[string][]byte{
		"der":    der,
		"base64": []byte(b64(der) + "\n"),
		"pem":    pemBlock("PUBLIC KEY", der),
		"pkcs1":  pemBlock("RSA PUBLIC KEY", pkcs1(rsaPub)),
	} {
		pub, got, err := parsePublicKey(in)
		if err != nil || !bytes.Equal(got, der) || !pub.(*rsa.PublicKey).Equal(rsaPub) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, in := range map[string][]byte{
		"two blocks":  append(pemBlock("PUBLIC KEY", der), pemBlock("PUBLIC KEY", der)...),
		"certificate": pemBlock("CERTIFICATE", der),
		"broken pem":  []byte("-----BEGIN PUBLIC KEY-----\nAAAA"),
		"garbage":     []byte("hello"),
	} {
		if _, _, err := parsePublicKey(in); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}
