package ui

import (
	"crypto/ed25519"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// The review's golden files need a transcript whose times do not change, so it is kept in
// testdata/transcript, made by the transcript package: `go test ./ui -run TestFixture -fixture`
// rewrites it (say after a change of the transcript format).
var rewriteFixture = flag.Bool("fixture", false, "rewrite testdata/transcript with the transcript package")

const fixtureDir = "testdata/transcript"

func TestFixture(t *testing.T) {
	if !*rewriteFixture {
		if r := transcript.Verify(fixtureDir); !r.OK {
			t.Fatalf("testdata/transcript no longer verifies (%s): rewrite it with -fixture", r.Problem)
		}
		return
	}
	if err := os.RemoveAll(fixtureDir); err != nil {
		t.Fatal(err)
	}
	writeTranscript(t, fixtureDir)
}

// copyFixture copies testdata/transcript to a new folder the test may change.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(fixtureDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(fixtureDir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeTranscript writes a sealed rehearsal transcript into dir with the transcript package.
func writeTranscript(t testing.TB, dir string) {
	t.Helper()
	files := map[string]string{
		"plan.yaml":                        "kind: generate\nceremony: rehearsal\n",
		"backup/backup-manifest.json":      "{\"format\":\"keyceremony-backup/1\"}\n",
		"backup/backup.blob":               "not a real blob\n",
		"aws/EncryptedKeyMaterial.bin":     "not real key material\n",
		"aws/import-command.txt":           "aws kms import-key-material ...\n",
		"aws/ImportToken.bin":              "token\n",
		"aws/manifest.json":                "{\"format\":\"keyceremony-import-package/1\"}\n",
		"shares/share-3-carol.age.receipt": "receipt\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signer := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)) // a fixed test key
	admin := transcript.Actor{Role: "administrator", Name: "Ana"}
	w, err := transcript.Create(dir, signer, transcript.Begin{
		Actor: admin, PlanSHA256: "5e2b8f0c6d1a4e3b9c7f2a8d0e6b4c1f3a9d7e5b2c8f0a6d4e1b3c9f7a5d2e8b",
		Facts: map[string]string{"kind": "generate", "name": "rehearsal"}, Files: []string{"plan.yaml"},
	})
	if err != nil {
		t.Fatal(err)
	}
	type attrs = map[string]any
	entries := []transcript.Entry{
		{Step: "open-token", Actor: transcript.Actor{Role: "security-officer", Name: "Sam"}, Facts: attrs{"token": "rehearsal", "serial": "5c1a0e2f", "manufacturer": "SoftHSM project"}},
		{Step: "check-wrapping-key:aws", Actor: transcript.Actor{Role: "witness", Name: "Dana"}, Facts: attrs{"fingerprint": "SHA256:91be4c07aa", "confirmed_by": "Dana"}},
		{Step: "generate-key", Actor: admin, Facts: attrs{"label": "payments-root", "spec": "AES-256", "kcv": "8f3a21", "attributes": attrs{"sensitive": true, "extractable": true, "local": true}}},
		{Step: "handout:1", Actor: transcript.Actor{Role: "custodian", Name: "Alice"}, Facts: attrs{"share": 1, "delivery": "typed"}},
		{Step: "handout:2", Actor: transcript.Actor{Role: "custodian", Name: "Bob"}, Facts: attrs{"share": 2, "delivery": "typed"}},
		{Step: "handout:3", Actor: transcript.Actor{Role: "custodian", Name: "Carol"}, Facts: attrs{"share": 3, "delivery": "age-passphrase"}, Files: []string{"shares/share-3-carol.age.receipt"}},
		{Step: "backup", Actor: admin, Facts: attrs{"threshold": 2, "shares": 3, "backup_kcv": "1c9e44"}, Files: []string{"backup/backup-manifest.json", "backup/backup.blob"}},
		{Step: "wrap:aws", Kind: transcript.KindException, Actor: admin, Facts: attrs{"strategy": "host-assisted", "reason": "the token has no SHA-256 OAEP; the plan allows host-assisted wrapping"}},
		{Step: "wrap:aws", Actor: admin, Facts: attrs{"algorithm": "RSA_AES_KEY_WRAP_SHA_256", "strategy": "host-assisted"}, Files: []string{"aws/EncryptedKeyMaterial.bin", "aws/ImportToken.bin", "aws/import-command.txt", "aws/manifest.json"}},
	}
	for _, e := range entries {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Seal("keyceremony/rehearsal", transcript.Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
