package main

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// newTokens makes a SoftHSM2 configuration in dir with the given token labels (user PIN 1234)
// and points SOFTHSM2_CONF at it.
func newTokens(t *testing.T, dir string, labels ...string) {
	t.Helper()
	tokens := filepath.Join(dir, "tokens")
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	for _, l := range labels {
		out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", l, "--so-pin", "12345678", "--pin", "1234").CombinedOutput()
		if err != nil {
			t.Fatalf("softhsm2-util (run scripts/setup): %v: %s", err, out)
		}
	}
}

// keyceremony runs the CLI in-process in dir and returns stdout and stderr.
func keyceremony(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

type event struct {
	Seq   int               `json:"seq"`
	Step  string            `json:"step"`
	Kind  string            `json:"kind"`
	Facts map[string]any    `json:"facts"`
	Files []json.RawMessage `json:"files"`
}

func readEvents(t *testing.T, dir string) []event {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "transcript.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("transcript line: %v", err)
		}
		evs = append(evs, e)
	}
	return evs
}

func factOf(t *testing.T, evs []event, step, fact string) string {
	t.Helper()
	for _, e := range evs {
		if e.Step == step && e.Kind == "step" {
			if v, ok := e.Facts[fact].(string); ok {
				return v
			}
		}
	}
	t.Fatalf("no %s fact in a %s event", fact, step)
	return ""
}

func aesKCV(t *testing.T, key []byte) string {
	t.Helper()
	c, err := aes.NewCipher(key)
	if err != nil {
		t.Fatalf("unwrapped key: %v", err)
	}
	var block [16]byte
	c.Encrypt(block[:], block[:])
	return hex.EncodeToString(block[:3])
}

func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// unwrapRSAAES opens a CKM_RSA_AES_KEY_WRAP blob with openssl, as an auditor or the cloud would.
func unwrapRSAAES(t *testing.T, dir string, blob []byte, kek string, modulusBytes int) []byte {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "rsa.part"), blob[:modulusBytes], 0o600)
	os.WriteFile(filepath.Join(dir, "kwp.part"), blob[modulusBytes:], 0o600)
	openssl(t, dir, "pkeyutl", "-decrypt", "-inkey", kek, "-in", "rsa.part", "-out", "eph.bin",
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1")
	eph, _ := os.ReadFile(filepath.Join(dir, "eph.bin"))
	openssl(t, dir, "enc", "-d", "-id-aes256-wrap-pad", "-iv", "A65959A6", "-K", hex.EncodeToString(eph), "-in", "kwp.part", "-out", "target.bin")
	key, _ := os.ReadFile(filepath.Join(dir, "target.bin"))
	for _, f := range []string{"rsa.part", "kwp.part", "eph.bin", "target.bin"} {
		os.Remove(filepath.Join(dir, f))
	}
	return key
}

// TestCeremonyEndToEnd runs a full generate ceremony headless on SoftHSM2, verifies it with both
// verifiers, opens every import package with openssl, and restores the key from two shares into
// another token.
func TestCeremonyEndToEnd(t *testing.T) {
	dir := t.TempDir()
	newTokens(t, dir, "test", "restored")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	args := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)
	stdout, stderr, code := keyceremony(t, dir, args...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "ceremony test finished and sealed") {
		t.Fatalf("run stdout: %q", stdout)
	}
	out := filepath.Join(dir, "out")
	if _, stderr, code := keyceremony(t, dir, "verify", "out"); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, stderr)
	}
	script, _ := filepath.Abs("../../scripts/verify-transcript")
	if b, err := exec.Command("bash", script, out).CombinedOutput(); err != nil {
		t.Fatalf("scripts/verify-transcript: %v\n%s", err, b)
	}

	evs := readEvents(t, out)
	kcv := factOf(t, evs, "generate-key", "kcv")
	// The key the witnesses wrote down, typed with a space as they read it.
	fp := strings.TrimPrefix(evs[0].Facts["fingerprint"].(string), "SHA256:")
	for _, typed := range []string{fp[:4] + " " + fp[4:32], "sha256:" + strings.ToUpper(fp), "SHA256:" + fp} {
		if stdout, stderr, code := keyceremony(t, dir, "verify", "--fingerprint", typed, "out"); code != 0 || !strings.Contains(stdout, "signing key matches") {
			t.Fatalf("verify --fingerprint %s: exit %d\n%s%s", typed, code, stdout, stderr)
		}
	}

	// AWS RSAES_OAEP_SHA_1: the material itself under OAEP.
	openssl(t, dir, "pkeyutl", "-decrypt", "-inkey", "aws-kek.pem", "-in", filepath.Join(out, "targets/aws/EncryptedKeyMaterial.bin"),
		"-out", "aws.key", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1")
	awsKey, _ := os.ReadFile(filepath.Join(dir, "aws.key"))
	if got := aesKCV(t, awsKey); got != kcv {
		t.Errorf("aws package holds key with KCV %s, the ceremony's is %s", got, kcv)
	}
	// GCP RSA_OAEP_3072_SHA1_AES_256.
	var gcpBlob []byte
	entries, _ := os.ReadDir(filepath.Join(out, "targets/gcp"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".bin") {
			gcpBlob, _ = os.ReadFile(filepath.Join(out, "targets/gcp", e.Name()))
		}
	}
	if got := aesKCV(t, unwrapRSAAES(t, dir, gcpBlob, "gcp-kek.pem", 384)); got != kcv {
		t.Errorf("gcp package holds key with KCV %s, the ceremony's is %s", got, kcv)
	}
	// Azure .byok: base64url ciphertext of the same construction.
	byoks, _ := filepath.Glob(filepath.Join(out, "targets/azure/*.byok"))
	if len(byoks) != 1 {
		t.Fatalf("azure package: %d .byok files", len(byoks))
	}
	var byok struct{ Ciphertext string }
	raw, _ := os.ReadFile(byoks[0])
	json.Unmarshal(raw, &byok)
	azBlob, err := base64URL(byok.Ciphertext)
	if err != nil {
		t.Fatal(err)
	}
	if got := aesKCV(t, unwrapRSAAES(t, dir, azBlob, "azure-kek.pem", 384)); got != kcv {
		t.Errorf("azure package holds key with KCV %s, the ceremony's is %s", got, kcv)
	}

	// Restore from Bob's and Carol's shares into the second token.
	sets, _ := filepath.Glob(filepath.Join(out, "backup-*"))
	if len(sets) != 1 {
		t.Fatalf("%d backup sets in the output, want 1", len(sets))
	}
	set := filepath.Base(sets[0])
	restorePlan := "version: 1\nkind: restore\nceremony: test-restore\ntoken: {module: " + softhsmModule + ", token: restored}\n" +
		"key: {label: data-key, type: AES-256}\nparticipants:\n  - {role: administrator, name: Ada}\n  - {role: security-officer, name: Sam}\n  - {role: witness, name: Wendy}\n" +
		"restore: {manifest: out/" + set + "/backup-manifest.json, blob: out/" + set + "/backup-blob.bin, ceremonies: [out]}\noutput: restored\n"
	os.WriteFile(filepath.Join(dir, "restore.yaml"), []byte(restorePlan), 0o600)
	if inRecord, _ := filepath.Glob(filepath.Join(sets[0], "*.age")); len(inRecord) != 0 {
		t.Fatalf("share files in the ceremony folder: %v", inRecord)
	}
	shares, _ := filepath.Glob(filepath.Join(dir, "out-handouts", set, "share-[23]-*.age"))
	if len(shares) != 2 {
		t.Fatalf("%d share files for Bob and Carol in the handouts folder, want 2", len(shares))
	}
	args = append([]string{"run", "restore.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN", "--share", shares[0], "--share", shares[1]}, identityFlags(dir)...)
	if _, stderr, code := keyceremony(t, dir, args...); code != 0 {
		t.Fatalf("restore: exit %d\n%s", code, stderr)
	}
	if got := factOf(t, readEvents(t, filepath.Join(dir, "restored")), "restore-key", "kcv"); got != kcv {
		t.Errorf("restored key KCV %s, want %s", got, kcv)
	}
	if _, stderr, code := keyceremony(t, dir, "verify", "restored"); code != 0 {
		t.Fatalf("verify restored: exit %d\n%s", code, stderr)
	}
	// The backup the quorum opened is pinned in the restore's record, byte for byte.
	for _, f := range []string{"backup-manifest.json", "backup-blob.bin"} {
		orig, _ := os.ReadFile(filepath.Join(sets[0], f))
		pinned, err := os.ReadFile(filepath.Join(dir, "restored/inputs/backup", f))
		if err != nil || !bytes.Equal(orig, pinned) {
			t.Errorf("restored/inputs/backup/%s is not the backup opened: %v", f, err)
		}
	}
}

func base64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
