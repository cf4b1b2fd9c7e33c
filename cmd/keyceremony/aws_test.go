package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestAWSImportEndToEnd is the whole BYOK flow against a real KMS API on loopback: prepare on the
// connected side (the build without cgo), a headless ceremony on SoftHSM2 that wraps in the token
// with RSAES_OAEP_SHA_1, upload with either build, then Encrypt and Decrypt with the imported key.
func TestAWSImportEndToEnd(t *testing.T) {
	dir := t.TempDir()
	endpoint := localKMSFixtures(t, dir, "test")

	// The connected side runs the build without cgo: it prepares, and uploads the second time.
	pure := pureBinary(t, dir)
	stdout, stderr, code := runPure(t, pure, dir, "aws", "prepare", "--create", "--wrapping-algorithm", "RSAES_OAEP_SHA_1",
		"--wrapping-key-spec", "RSA_2048", "--out", "aws-params.json", "--endpoint-url", endpoint, "--region", "eu-west-2")
	if code != 0 {
		t.Fatalf("aws prepare: %s", stderr)
	}
	if !regexp.MustCompile(`SHA256:[0-9a-f]{64}`).MatchString(stdout) {
		t.Errorf("aws prepare does not print the wrapping key fingerprint:\n%s", stdout)
	}
	var params struct{ KeyId string }
	raw, _ := os.ReadFile(filepath.Join(dir, "aws-params.json"))
	if err := json.Unmarshal(raw, &params); err != nil || params.KeyId == "" {
		t.Fatalf("prepare output: %v %s", err, raw)
	}

	if _, stderr, code := keyceremony(t, dir, append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)...); code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	if got := factOf(t, readEvents(t, filepath.Join(dir, "out")), "wrap:aws", "strategy"); got != "native" {
		t.Errorf("aws wrap strategy %q, want native (OAEP SHA-1 in the token)", got)
	}

	pkg := filepath.Join("out", "targets", "aws")
	if _, stderr, code := keyceremony(t, dir, "upload", pkg, "--endpoint-url", endpoint, "--region", "eu-west-2"); code != 0 {
		t.Fatalf("%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, pkg, "upload-receipt.json")); err != nil {
		t.Errorf("no upload receipt: %v", err)
	}
	// The same package again: KMS accepts the same material, and a second receipt is written.
	if _, stderr, code := runPure(t, pure, dir, "upload", pkg, "--endpoint-url", endpoint, "--region", "eu-west-2"); code != 0 {
		t.Fatalf("second upload: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, pkg, "upload-receipt-2.json")); err != nil {
		t.Errorf("no second upload receipt: %v", err)
	}

	client, ctx := kmsClient(t, endpoint)
	plaintext := []byte("encrypted under a key made in an HSM")
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(params.KeyId), Plaintext: plaintext})
	if err != nil {
		t.Fatalf("Encrypt with the imported key: %v", err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatalf("Decrypt with the imported key: %v", err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) {
		t.Errorf("Decrypt gave %q", dec.Plaintext)
	}
}
