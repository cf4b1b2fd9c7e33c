package wrap

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/version"
)

var softHSMToken = hsmspec.TokenInfo{Label: "ceremony", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Firmware: "2.6"}

// fakeBlob has the shape of an RSA-AES blob under a k-byte modulus, or of a direct one.
func fakeBlob(p *Params) []byte {
	n := p.rsaKey().Size()
	if p.method.cons == rsaAES {
		n += 40
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestWritePackage checks each profile's files, command and manifest, without a token.
func TestWritePackage(t *testing.T) {
	awsExpires := awsTarget()
	awsExpires.ExpirationModel, awsExpires.ValidTo = "KEY_MATERIAL_EXPIRES", "2027-06-30T00:00:00Z"
	managed := azureTarget()
	managed.KID = azureHSMKID
	oci := ociTarget()
	oci.KeyName = "Payments 2026"
	vault := vaultTarget()
	vault.Mount, vault.HashFunction, vault.KeyName = "kms/transit", "SHA1", "payments-2026"
	token, err := os.ReadFile("testdata/aws-ImportToken.bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		target  Target
		key     KeyInfo
		files   []string // besides import-command.txt and manifest.json
		command string
		blob    func(t *testing.T, dir string) []byte // the blob as the package holds it
	}{
		{awsExpires, KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3"}, []string{AWSMaterialName, AWSTokenName},
			"aws kms import-key-material --region eu-west-2 --key-id " + awsKeyARN +
				" --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_EXPIRES --valid-to 2027-06-30T00:00:00Z",
			func(t *testing.T, dir string) []byte {
				if got, _ := os.ReadFile(filepath.Join(dir, AWSTokenName)); !bytes.Equal(got, token) {
					t.Error("ImportToken.bin differs from the import token")
				}
				b, _ := os.ReadFile(filepath.Join(dir, AWSMaterialName))
				return b
			}},
		{awsTarget(), KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3"}, []string{AWSMaterialName, AWSTokenName},
			"aws kms import-key-material --region eu-west-2 --key-id " + awsKeyARN +
				" --encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE",
			nil},
		{gcpTarget(), KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3"}, []string{GCPWrappedKeyName},
			"gcloud kms keys versions import --project=acme-kms --location=europe-west2 --keyring=ceremony --key=payments --import-job=job-2026-11 --algorithm=google-symmetric-encryption --wrapped-key-file=wrapped-key.bin",
			func(t *testing.T, dir string) []byte {
				b, _ := os.ReadFile(filepath.Join(dir, GCPWrappedKeyName))
				return b
			}},
		{azureTarget(), KeyInfo{Label: "signing-2026", Spec: p256, Fingerprint: "SHA256:00"}, []string{AzureBYOKName},
			"az keyvault key import --vault-name contoso-byok --name payments --byok-file KeyTransferPackage.byok --kty EC --curve P-256",
			func(t *testing.T, dir string) []byte { return azureCiphertext(t, dir, azureKID) }},
		{managed, KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3"}, []string{AzureBYOKName},
			"az keyvault key import --hsm-name contoso-mhsm --name payments --byok-file KeyTransferPackage.byok --kty oct",
			func(t *testing.T, dir string) []byte { return azureCiphertext(t, dir, azureHSMKID) }},
		{azureTarget(), KeyInfo{Label: "k1", Spec: k1, Fingerprint: "SHA256:00"}, []string{AzureBYOKName},
			"az keyvault key import --vault-name contoso-byok --name payments --byok-file KeyTransferPackage.byok --kty EC --curve P-256K", nil},
		{azureTarget(), KeyInfo{Label: "rsa", Spec: rsa2048, Fingerprint: "SHA256:00"}, []string{AzureBYOKName},
			"az keyvault key import --vault-name contoso-byok --name payments --byok-file KeyTransferPackage.byok --kty RSA", nil},
		{vault, KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3"}, []string{VaultCiphertextName},
			"vault write kms/transit/keys/payments-2026/import ciphertext=@ciphertext.b64 hash_function=SHA1 type=aes256-gcm96",
			func(t *testing.T, dir string) []byte {
				b, _ := os.ReadFile(filepath.Join(dir, VaultCiphertextName))
				d, err := base64.StdEncoding.DecodeString(string(b))
				if err != nil || bytes.ContainsAny(b, "\n-_") {
					t.Errorf("ciphertext.b64 is not one line of standard base64: %v", err)
				}
				return d
			}},
		{oci, KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3"}, []string{OCIWrappedImportName},
			"oci kms management key import --endpoint " + ociEndpoint + " --compartment-id " + compartment +
				` --display-name 'Payments 2026' --key-shape '{"algorithm":"AES","length":32}' --wrapped-import-key file://wrapped-import-key.json --protection-mode HSM`,
			func(t *testing.T, dir string) []byte { return ociKeyMaterial(t, dir, "RSA_OAEP_AES_SHA256") }},
		{ociTarget(), KeyInfo{Label: "rsa", Spec: rsa4096, Fingerprint: "SHA256:00"}, []string{OCIWrappedImportName},
			"oci kms management key import --endpoint " + ociEndpoint + " --compartment-id " + compartment +
				` --display-name payments --key-shape '{"algorithm":"RSA","length":512}' --wrapped-import-key file://wrapped-import-key.json --protection-mode HSM`, nil},
	} {
		t.Run(tc.target.Name+"/"+tc.key.Spec.String(), func(t *testing.T) {
			p := mustLoad(t, tc.target)
			tc.key.Token = softHSMToken
			res := &Result{Blob: fakeBlob(p), Strategy: StrategyComposed, Reason: "because", Mechanisms: []string{"CKM_AES_KEY_WRAP_PAD"}}
			dir := filepath.Join(t.TempDir(), "out", tc.target.Name)
			m, err := WritePackage(dir, p, tc.key, res, now.Add(time.Second/3))
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(tc.files), CommandName, ManifestName)
			slices.Sort(want)
			if got := listDir(t, dir); !slices.Equal(got, want) {
				t.Fatalf("files %q, want %q", got, want)
			}
			if cmd, _ := os.ReadFile(filepath.Join(dir, CommandName)); string(cmd) != tc.command+"\n" || m.Command != tc.command {
				t.Errorf("command\n%s\nwant\n%s", cmd, tc.command)
			}
			if tc.blob != nil && !bytes.Equal(tc.blob(t, dir), res.Blob) {
				t.Error("the package does not hold the blob")
			}
			read, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(read.Files) != len(tc.files)+1 || read.Profile != tc.target.Profile || read.Target != tc.target.Name ||
				read.Algorithm != p.Algorithm || read.WrappingKeySpec != p.WrappingKeySpec || read.WrappingKeyFingerprint != p.Fingerprint() ||
				read.Strategy != StrategyComposed || read.StrategyReason != "because" || read.Key.Label != tc.key.Label ||
				read.Key.Spec != tc.key.Spec.String() || read.Key.KCV != tc.key.KCV || read.Key.Fingerprint != tc.key.Fingerprint ||
				!read.ParametersValidTo.Equal(p.ValidTo) || read.KeyceremonyVersion != version.Version || !read.Created.Equal(now) {
				t.Errorf("manifest %+v", read)
			}
			if (read.AWS != nil) != (tc.target.Profile == ProfileAWS) {
				t.Errorf("aws section %+v", read.AWS)
			}
		})
	}
}

func azureCiphertext(t *testing.T, dir, kid string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, AzureBYOKName))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		SchemaVersion string `json:"schema_version"`
		Header        struct {
			KID, Alg, Enc string
		} `json:"header"`
		Ciphertext string `json:"ciphertext"`
		Generator  string `json:"generator"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	if f.SchemaVersion != "1.0.0" || f.Header.KID != kid || f.Header.Alg != "dir" || f.Header.Enc != "CKM_RSA_AES_KEY_WRAP" ||
		f.Generator != "keyceremony "+version.Version+"; source HSM SoftHSM project SoftHSM v2, firmware 2.6" ||
		strings.ContainsAny(f.Ciphertext, "=+/") {
		t.Errorf(".byok %s", raw)
	}
	if !strings.HasPrefix(string(raw), "{\n  \"schema_version\": \"1.0.0\",\n  \"header\": {\n    \"kid\": ") {
		t.Errorf(".byok fields out of the specification's order:\n%s", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(f.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ociKeyMaterial(t *testing.T, dir, alg string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, OCIWrappedImportName))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		KeyMaterial       string `json:"keyMaterial"`
		WrappingAlgorithm string `json:"wrappingAlgorithm"`
	}
	if err := json.Unmarshal(raw, &w); err != nil || w.WrappingAlgorithm != alg {
		t.Fatalf("%s: %v", raw, err)
	}
	b, err := base64.StdEncoding.DecodeString(w.KeyMaterial)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWritePackageOnce(t *testing.T) {
	p := mustLoad(t, vaultTarget())
	res := &Result{Blob: fakeBlob(p), Strategy: StrategyComposed, Reason: "because"}
	key := KeyInfo{Label: "payments-2026", Spec: aes256, KCV: "a1b2c3", Token: softHSMToken}
	dir := filepath.Join(t.TempDir(), "pkg")
	if _, err := WritePackage(dir, p, key, res, now); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, dir)
	_, err := WritePackage(dir, p, key, res, now)
	want := "" + dir + " already exists\nhint: import packages are written once; give a new output folder or move the old one away"
	if err == nil || err.Error() != want {
		t.Fatalf("second write: %v", err)
	}
	if got := listDir(t, dir); !slices.Equal(got, before) {
		t.Errorf("second write changed the folder: %q", got)
	}
	if slices.ContainsFunc(listDir(t, dir), func(n string) bool { return strings.Contains(n, ".tmp-") }) {
		t.Error("a temporary file was left behind")
	}

	// The manifest catches a changed file, and names it.
	path := filepath.Join(dir, VaultCiphertextName)
	if err := os.WriteFile(path, []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadManifest(dir)
	want = "ciphertext.b64 in " + dir + " does not match its SHA-256 in the manifest: the package was altered\nhint: do not upload it; take the package from the ceremony's output again"
	if err == nil || err.Error() != want {
		t.Errorf("ReadManifest of an altered package: %v", err)
	}
}

// TestWritePackageRefusesBadKey checks that a package is not written for a key the target
// cannot take, and that the folder is then not created.
func TestWritePackageRefusesBadKey(t *testing.T) {
	p := mustLoad(t, gcpTarget())
	dir := filepath.Join(t.TempDir(), "pkg")
	_, err := WritePackage(dir, p, KeyInfo{Spec: rsa2048}, &Result{Blob: fakeBlob(p)}, now)
	if err == nil || !strings.HasPrefix(err.Error(), `target "gcp-prod": key_algorithm is missing`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the folder was created: %v", err)
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"oci", "--display-name", "it's mine", "--key-shape", `{"a":1}`, "a=b/c:d@e"})
	want := `oci --display-name 'it'\''s mine' --key-shape '{"a":1}' a=b/c:d@e`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
