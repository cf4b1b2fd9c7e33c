package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyceremony/keyceremony/internal/localkmstest"
	"github.com/keyceremony/keyceremony/upload"
)

// TestAWSReimport: AWS material imported with KEY_MATERIAL_EXPIRES is re-imported before its
// ValidTo by a rewrap ceremony that restores the key from the quorum into another token and
// wraps it for fresh import parameters of the same KMS key. local-kms accepts the re-import only
// of the same 32 bytes, so its acceptance proves the restored material is the original; data
// encrypted before decrypts after. The inventory then counts the new package's expiry only.
func TestAWSReimport(t *testing.T) {
	dir := t.TempDir()
	endpoint := localKMSFixtures(t, dir, "test", "reimport")
	must := func(args ...string) string { return mustSucceed(t, dir, args...) }
	kmsFlags := []string{"--endpoint-url", endpoint, "--region", "eu-west-2"}
	must(append([]string{"aws", "prepare", "--create", "--wrapping-algorithm", "RSAES_OAEP_SHA_1", "--wrapping-key-spec", "RSA_2048", "--out", "aws-params.json"}, kmsFlags...)...)
	var params struct{ KeyId string }
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "aws-params.json"))), &params); err != nil || params.KeyId == "" {
		t.Fatalf("aws prepare wrote no KeyId: %v", err)
	}

	today := time.Now().UTC().Truncate(24 * time.Hour)
	firstValidTo := today.AddDate(0, 0, 30).Format(time.RFC3339)
	plan := strings.Replace(readFile(t, filepath.Join(dir, "plan.yaml")), "expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE", "expiration_model: KEY_MATERIAL_EXPIRES\n    valid_to: "+firstValidTo, 1)
	write(t, filepath.Join(dir, "plan.yaml"), plan)
	must(append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)...)
	must(append([]string{"upload", filepath.Join("out", "targets", "aws")}, kmsFlags...)...)

	client, ctx := kmsClient(t, endpoint)
	plaintext := []byte("encrypted before the re-import")
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(params.KeyId), Plaintext: plaintext})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}

	// The inventory says when the material must be re-imported, and flags it from 30 days before.
	out := must("inventory", "--reimport-warn", "7", "out")
	if want := "re-import due " + firstValidTo[:10] + " (the key material expires then)"; !strings.Contains(out, want) {
		t.Errorf("inventory does not say %q:\n%s", want, out)
	}
	out, errOut, code := keyceremony(t, dir, "inventory", "--fail-on", "due", "out")
	if want := "keyceremony: key data-key: target aws: re-import due before " + firstValidTo[:10] + "\n"; code != 1 || !strings.Contains(errOut, want) ||
		!strings.Contains(out, "RE-IMPORT DUE: the key material expires "+firstValidTo[:10]+"; run a rewrap ceremony for fresh import parameters of "+params.KeyId) {
		t.Errorf("inventory --fail-on due 30 days before the material expires: exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
	}

	// Fresh import parameters for the same KMS key; a quorum restores the key into another token
	// and it is wrapped for them.
	must(append([]string{"aws", "prepare", "--key-id", params.KeyId, "--wrapping-algorithm", "RSAES_OAEP_SHA_1", "--wrapping-key-spec", "RSA_2048", "--out", "aws-params-2.json"}, kmsFlags...)...)
	glob := func(pattern string) string { return globOne(t, dir, pattern) }
	secondValidTo := today.AddDate(0, 0, 200).Format(time.RFC3339)
	write(t, filepath.Join(dir, "reimport.yaml"), fmt.Sprintf(`version: 1
kind: rewrap
ceremony: reimport
token: {module: /usr/lib/softhsm/libsofthsm2.so, token: reimport}
key: {label: data-key, type: AES-256}
participants: [{role: administrator, name: Ada}, {role: security-officer, name: Sam}, {role: witness, name: Wendy}]
restore: {manifest: %s, blob: %s, ceremonies: [out]}
targets:
  - name: aws
    profile: aws
    params: aws-params-2.json
    algorithm: RSAES_OAEP_SHA_1
    wrapping_key_spec: RSA_2048
    expiration_model: KEY_MATERIAL_EXPIRES
    valid_to: %s
custody: {target: destroy}
output: reimported
`, glob("out/backup-*/backup-manifest.json"), glob("out/backup-*/backup-blob.bin"), secondValidTo))
	script := must("plan", "check", "reimport.yaml")
	for _, step := range []string{"Check the AWS KMS wrapping key of target aws", "Quorum members enter their shares", `Restore key "data-key" into the token`, "Wrap the key for aws (AWS KMS)"} {
		if !strings.Contains(script, step) {
			t.Errorf("the re-import's script has no step %q:\n%s", step, script)
		}
	}
	must(append([]string{"run", "reimport.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN",
		"--share", glob("out-handouts/backup-*/share-2-bob.age"), "--share", glob("out-handouts/backup-*/share-3-carol.age")}, identityFlags(dir)...)...)
	must("verify", "reimported")
	events := readEvents(t, filepath.Join(dir, "reimported"))
	if got, want := factOf(t, events, "restore-key", "kcv"), factOf(t, readEvents(t, filepath.Join(dir, "out")), "generate-key", "kcv"); got != want {
		t.Errorf("restored key check value %v, generated %v", got, want)
	}
	must(append([]string{"upload", filepath.Join("reimported", "targets", "aws")}, kmsFlags...)...)

	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatalf("Decrypt after the re-import: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) {
		t.Errorf("Decrypt after the re-import gave %q", dec.Plaintext)
	}
	desc, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(params.KeyId)})
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.KeyMetadata.ValidTo; got == nil || got.UTC().Format(time.RFC3339) != secondValidTo {
		t.Errorf("KMS key ValidTo after the re-import: %v, want %s", got, secondValidTo)
	}

	// The inventory counts the new package: the first one's expiry no longer does.
	out = must("inventory", "--fail-on", "due", "out", "reimported")
	for _, want := range []string{
		"re-imported by ceremony reimport: this package's expiry no longer counts",
		"re-import due " + secondValidTo[:10] + " (the key material expires then)",
		"ceremony  " + today.Format(time.DateOnly) + " rewrap reimport (reimported) verified",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("inventory after the re-import does not say %q:\n%s", want, out)
		}
	}
}

// kmsClient is a KMS client of the local-kms at endpoint, and a context that ends with the test.
func kmsClient(t *testing.T, endpoint string) (*kms.Client, context.Context) {
	t.Helper()
	client, _, err := upload.NewClients(context.Background(), endpoint, "eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return client, ctx
}

// globOne is the one file in dir that pattern matches.
func globOne(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) != 1 {
		t.Fatalf("%s: %d matches", pattern, len(m))
	}
	return m[0]
}

// localKMSFixtures makes the tokens and the standard fixtures in dir, with no AWS import
// parameters (they come from local-kms, started here), and sets the PINs in KC_PIN and
// KC_SO_PIN. It returns local-kms's endpoint.
func localKMSFixtures(t *testing.T, dir string, tokens ...string) string {
	t.Helper()
	newTokens(t, dir, tokens...)
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "aws-params.json"))
	localkmstest.AWSEnv(t)
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	return localkmstest.Start(t)
}

// mustSucceed runs keyceremony in dir and fails the test when it exits non-zero; it returns the
// standard output.
func mustSucceed(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := keyceremony(t, dir, args...)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}
