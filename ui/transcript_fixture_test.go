package ui

import (
	"crypto/ed25519"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony"
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
		"plan.yaml":                            "kind: generate\nceremony: rehearsal\n",
		"inputs/aws/params.json":               "{\"KeyId\": \"arn:aws:kms:eu-west-2:111122223333:key/5d05267f\"}\n",
		"backup-7K3MQ9XA/backup-manifest.json": "{\"format\":\"keyceremony-backup/1\"}\n",
		"backup-7K3MQ9XA/backup-blob.bin":      "not a real blob\n",
		"targets/aws/EncryptedKeyMaterial.bin": "not real key material\n",
		"targets/aws/import-command.txt":       "aws kms import-key-material ...\n",
		"targets/aws/ImportToken.bin":          "token\n",
		"targets/aws/manifest.json":            "{\"format\":\"keyceremony-import-package/1\"}\n",
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
	dana := ceremony.Actor{Role: "witness", Name: "Dana"}
	w, err := transcript.Create(dir, signer, transcript.Begin{
		Actor: admin, PlanSHA256: "5e2b8f0c6d1a4e3b9c7f2a8d0e6b4c1f3a9d7e5b2c8f0a6d4e1b3c9f7a5d2e8b",
		Facts: ceremony.BeginFacts{Ceremony: "rehearsal", Kind: "generate", KeyceremonyVersion: "0.1.0",
			Token:        ceremony.TokenFacts{Label: "rehearsal", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "5c1a0e2f", Firmware: "2.6"},
			Capabilities: "RSA-OAEP SHA-1 yes, SHA-256 no", Participants: []ceremony.Actor{{Role: "administrator", Name: "Ana"}, dana},
			Interaction: ceremony.ModeGuided},
		Files: []string{"plan.yaml"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The facts are the engine's own types: the review shows what a real transcript holds.
	const awsFP = "SHA256:91be4c07e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9cc2d"
	typedBack := ceremony.Confirmation{By: dana, How: ceremony.ConfirmedTypedBack}
	custodian := func(name string) transcript.Actor { return transcript.Actor{Role: "custodian", Name: name} }
	handout := func(i int, name, delivery string) ceremony.HandoutFacts {
		return ceremony.HandoutFacts{Custodian: name, Index: i, Delivery: delivery, SetID: "7K3MQ9XA", Commitment: fmt.Sprintf("%064x", i)}
	}
	entries := []transcript.Entry{
		{Step: "signing-key-checked", Actor: admin, Facts: ceremony.SigningKeyCheckedFacts{Fingerprint: "SHA256:3f9a0b7e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9cc2d1", Confirmed: typedBack}},
		{Step: "check-wrapping-key:aws", Actor: transcript.Actor(dana), Facts: ceremony.CheckWrappingKeyFacts{Target: "aws", Profile: "aws", Algorithm: "RSA_AES_KEY_WRAP_SHA_256",
			WrappingKeyFingerprint: awsFP, Confirmed: typedBack,
			Inputs: map[string]ceremony.PinnedInput{"params": {Source: "cloud/aws-params.json", SHA256: fmt.Sprintf("%064x", 7), Copy: "inputs/aws/params.json"}}},
			Files: []string{"inputs/aws/params.json"}},
		{Step: "intent:generate-key", Actor: admin, Facts: ceremony.Intent{Keys: []ceremony.KeyIntent{{Label: "payments-root", CKAID: "8c2f61d04b7a9e3c5f1d2a6b0e8c4f7a"}}}},
		{Step: "generate-key", Actor: admin, Facts: ceremony.KeyFacts{Label: "payments-root", Spec: "AES-256", ID: "8c2f61d04b7a9e3c5f1d2a6b0e8c4f7a", KCV: "8f3a21",
			Attributes: map[string]bool{"CKA_TOKEN": true, "CKA_SENSITIVE": true, "CKA_EXTRACTABLE": true, "CKA_LOCAL": true, "CKA_WRAP_WITH_TRUSTED": true}}},
		{Step: "intent:backup", Actor: admin, Facts: ceremony.Intent{SetID: "7K3MQ9XA"}},
		{Step: "handout:1", Actor: custodian("Alice"), Facts: handout(1, "Alice", "typed")},
		{Step: "handout:2", Actor: custodian("Bob"), Facts: handout(2, "Bob", "typed")},
		{Step: "handout:3", Actor: custodian("Carol"), Facts: handout(3, "Carol", "age-passphrase")},
		{Step: "backup", Actor: admin, Facts: ceremony.BackupFacts{SetID: "7K3MQ9XA", Threshold: 2, Custodians: []string{"Alice", "Bob", "Carol"}, BackupKeyKCV: "1c9e44",
			Label: "payments-root", Spec: "AES-256", KCV: "8f3a21"}, Files: []string{"backup-7K3MQ9XA/backup-manifest.json", "backup-7K3MQ9XA/backup-blob.bin"}},
		{Step: "intent:wrap", Actor: admin, Facts: ceremony.Intent{Packages: []string{"targets/aws"}}},
		{Step: "wrap:aws", Kind: transcript.KindException, Actor: admin, Facts: ceremony.ExceptionFacts{Exception: "host-assisted wrap (allowed by the plan): the token has no SHA-256 OAEP"}},
		{Step: "wrap:aws", Actor: admin, Facts: ceremony.WrapFacts{Target: "aws", Profile: "aws", Algorithm: "RSA_AES_KEY_WRAP_SHA_256", Strategy: "host-assisted",
			StrategyReason: "the token lacks CKM_RSA_AES_KEY_WRAP and CKM_RSA_PKCS_OAEP with SHA-256; allowed by the plan", WrappingKeyFingerprint: awsFP},
			Files: []string{"targets/aws/EncryptedKeyMaterial.bin", "targets/aws/ImportToken.bin", "targets/aws/import-command.txt", "targets/aws/manifest.json"}},
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
