package upload

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/wrap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Commands in the shape each cloud's CLI takes them (cloud-import-formats.md).
var manualCommands = map[string]string{
	"aws": "aws kms import-key-material --key-id arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab " +
		"--encrypted-key-material fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin " +
		"--expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE --region eu-west-2",
	"gcp": "gcloud kms keys versions import --import-job=ceremony-2026-11 --location=europe-west2 --keyring=payments " +
		"--key=card-data --algorithm=google-symmetric-encryption --wrapped-key-file=wrapped-key.bin --project=acme-kms",
	"azure": "az keyvault key import --hsm-name acme-mhsm --name card-data --byok-file card-data.byok --kty oct-HSM --ops encrypt decrypt",
	"vault": "vault write transit/keys/card-data/import ciphertext=@ciphertext.b64 hash_function=SHA1 type=aes256-gcm96",
	"oci": "oci kms management key import --compartment-id ocid1.compartment.oc1..aaaaexample --display-name card-data " +
		"--key-shape '{\"algorithm\":\"AES\",\"length\":32}' --wrapped-import-key file://wrapped-import-key.json " +
		"--endpoint https://example-management.kms.eu-frankfurt-1.oraclecloud.com",
}

func manualManifest(profile string) *wrap.Manifest {
	m := &wrap.Manifest{
		Format:            wrap.ManifestFormat,
		Profile:           profile,
		Algorithm:         "RSA_OAEP_3072_SHA1_AES_256",
		WrappingKeySpec:   "RSA_3072",
		Strategy:          "composed-in-token",
		Key:               wrap.ManifestKey{Label: "card-data", Spec: "AES-256", KCV: "a1b2c3"},
		ParametersValidTo: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Command:           manualCommands[profile],
	}
	if profile == "aws" {
		m.AWS = &wrap.ManifestAWS{KeyID: "arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}
	}
	return m
}

// Rotation packages of each new-version path, in the shape wrap writes them (wrap/testdata/newversion.golden).
var rotationCommands = map[string]struct {
	profile, command string
	aws              *wrap.ManifestAWS
}{
	wrap.NewVersionAWSRotation: {"aws", manualCommands["aws"] + " --import-type NEW_KEY_MATERIAL\n" +
		"aws kms rotate-key-on-demand --region eu-west-2 --key-id arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		&wrap.ManifestAWS{KeyID: "arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType: "NEW_KEY_MATERIAL"}},
	wrap.NewVersionAWSAlias: {"aws", strings.ReplaceAll(manualCommands["aws"], "1234abcd", "9999abcd") + "\n" +
		"aws kms update-alias --region eu-west-2 --alias-name alias/card-data --target-key-id arn:aws:kms:eu-west-2:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab",
		&wrap.ManifestAWS{KeyID: "arn:aws:kms:eu-west-2:111122223333:key/9999abcd-12ab-34cd-56ef-1234567890ab", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE", Alias: "alias/card-data"}},
	wrap.NewVersionGCP:   {"gcp", manualCommands["gcp"], nil},
	wrap.NewVersionAzure: {"azure", manualCommands["azure"], nil},
	wrap.NewVersionVault: {"vault", "vault write transit/keys/card-data/import_version ciphertext=@ciphertext.b64 hash_function=SHA1", nil},
	wrap.NewVersionOCI: {"oci", "oci kms management key-version import --endpoint https://example-management.kms.eu-frankfurt-1.oraclecloud.com " +
		"--key-id ocid1.key.oc1.eu-frankfurt-1.example.abzwkljrexamplekey --wrapped-import-key file://wrapped-import-key.json", nil},
}

// TestRotationInstructionsGolden: a rotation's package says which cloud key it adds a version to,
// why that way, and how to see that the new version is in use.
func TestRotationInstructionsGolden(t *testing.T) {
	for path, rc := range rotationCommands {
		t.Run(path, func(t *testing.T) {
			m := manualManifest(rc.profile)
			m.Command, m.AWS = rc.command, rc.aws
			m.Key = wrap.ManifestKey{Label: "card-data-2027", Spec: "AES-256", KCV: "d4e5f6"}
			m.NewVersion = &wrap.NewVersion{Path: path, Replaces: "THE-CLOUD-KEY", Why: "WHY, as wrap.Params.NewVersionOf says it"}
			golden(t, Instructions(m), filepath.Join("testdata", "instructions-rotation-"+path+".txt"))
		})
	}
}

func golden(t *testing.T, got, path string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v\nhint: go test ./upload -run Golden -update", err)
	}
	if got != string(want) {
		t.Errorf("Instructions:\n%s\nwant (%s):\n%s", got, path, want)
	}
}

func TestInstructionsGolden(t *testing.T) {
	for profile := range manualCommands {
		t.Run(profile, func(t *testing.T) {
			golden(t, Instructions(manualManifest(profile)), filepath.Join("testdata", "instructions-"+profile+".txt"))
		})
	}
}

// A package of another cloud is checked by its manifest, then Run answers with its instructions
// without making AWS clients, and Upload refuses it.
func TestOtherCloudGivesInstructions(t *testing.T) {
	for _, profile := range []string{"gcp", "azure", "vault", "oci"} {
		t.Run(profile, func(t *testing.T) {
			m := manualManifest(profile)
			dir := writePackage(t, m, map[string][]byte{
				"import-command.txt": []byte(m.Command + "\n"),
				"wrapped-key.bin":    []byte("not really wrapped"),
			})
			// No endpoint or region: Run must not need them for these clouds.
			text, err := Run(context.Background(), dir, Record{}, "", "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if want := Instructions(m); text != want {
				t.Errorf("Run printed\n%s\nwant\n%s", text, want)
			}

			c := &countingClients{}
			_, err = Upload(context.Background(), c, c, dir, Record{}, time.Now())
			want := "" + dir + " is a package for " + wrap.CloudName(profile) + ", which keyceremony does not upload itself\n" +
				"hint: keyceremony upload " + dir + " prints the command to run and what to check after it"
			if err == nil || err.Error() != want {
				t.Errorf("Upload error\n%v\nwant\n%s", err, want)
			}
			if n := c.calls.Load(); n != 0 {
				t.Errorf("%d calls reached KMS or STS", n)
			}
		})
	}
}
