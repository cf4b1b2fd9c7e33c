package transcript

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchEvents is the size of the transcript the benchmarks verify: a large ceremony (many
// targets and custodians) has a few dozen events; 200 keeps the per-event cost visible.
const benchEvents = 200

func benchTranscript(b *testing.B) (dir string) {
	b.Helper()
	dir = b.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, err := Create(dir, priv, Begin{Actor: Actor{Role: "administrator", Name: "Ada"}, PlanSHA256: fmt.Sprintf("%064x", 0)})
	if err != nil {
		b.Fatal(err)
	}
	for i := 1; i < benchEvents-1; i++ {
		if _, err := w.Append(Entry{Step: fmt.Sprintf("step-%d", i), Actor: Actor{Role: "witness", Name: "Wendy"},
			Facts: map[string]any{"kcv": "a1b2c3", "note": "a typical fact of a typical step"}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Seal("keyceremony/bench", Actor{Role: "witness", Name: "Wendy"}); err != nil {
		b.Fatal(err)
	}
	w.Close()
	return dir
}

// BenchmarkVerify is an auditor's `keyceremony verify` of a 200-event transcript.
func BenchmarkVerify(b *testing.B) {
	dir := benchTranscript(b)
	for b.Loop() {
		if r := Verify(dir); !r.OK {
			b.Fatal(r.Problem)
		}
	}
}

// BenchmarkVerifyBaseline is the floor under BenchmarkVerify: reading the file and checking one
// Ed25519 signature per line, with no parsing, chaining or seal. scripts/bench reports the ratio.
func BenchmarkVerifyBaseline(b *testing.B) {
	dir := benchTranscript(b)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	raw, _ := os.ReadFile(filepath.Join(dir, TranscriptFile))
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	sigs := make([][]byte, len(lines))
	for i, l := range lines {
		sigs[i] = ed25519.Sign(priv, l)
	}
	for b.Loop() {
		raw, _ := os.ReadFile(filepath.Join(dir, TranscriptFile))
		for i, l := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
			if !ed25519.Verify(pub, l, sigs[i]) {
				b.Fatal("baseline signature")
			}
		}
	}
}
