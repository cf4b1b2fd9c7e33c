package ceremony

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/wrap"
	"github.com/keyceremony/keyceremony/wrap/attest"
)

// TestRecheckAttestations: verify checks again what check-wrapping-key recorded, on the pinned
// copy, and refuses a record whose attestation does not hold, differs, or whose copy changed.
func TestRecheckAttestations(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	job, err := os.ReadFile(filepath.Join("..", "wrap", "attest", "testdata", "job-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	recorded := &attest.Result{CheckedAt: at, Job: "projects/p/locations/l/keyRings/r/importJobs/j", Format: attest.FormatV2, Verdict: attest.VerdictAttested}
	setup := func(t *testing.T, a *wrap.AttestationFacts) (string, []transcript.Event) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "inputs", "gcp"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "inputs", "gcp", "params.json"), job, 0o600); err != nil {
			t.Fatal(err)
		}
		facts, _ := json.Marshal(CheckWrappingKeyFacts{Target: "gcp", Profile: wrap.ProfileGCP,
			Inputs:      map[string]PinnedInput{"params": {Source: "job.json", SHA256: sha256Hex(job), Copy: "inputs/gcp/params.json"}},
			Attestation: a})
		return dir, []transcript.Event{{Seq: 5, Step: "check-wrapping-key:gcp", Kind: transcript.KindStep, Facts: facts}}
	}
	same := func([]byte, time.Time) (*attest.Result, error) { r := *recorded; return &r, nil }
	for _, c := range []struct {
		name   string
		facts  *wrap.AttestationFacts
		check  func([]byte, time.Time) (*attest.Result, error)
		change bool // the pinned copy is changed after verify read it
		line   string
		err    string
	}{
		{name: "holds again", facts: &wrap.AttestationFacts{Policy: "required", Result: recorded}, check: same,
			line: "attestation of gcp checked again: it holds (CAVIUM_V2_COMPRESSED, pinned roots, at 2026-11-29T12:00:00Z)"},
		{name: "differs", facts: &wrap.AttestationFacts{Policy: "required", Result: recorded},
			check: func([]byte, time.Time) (*attest.Result, error) { r := *recorded; r.OwnerCard = "00"; return &r, nil },
			err:   "the attestation of gcp checked again differs from what event #5 recorded:"},
		{name: "does not hold", facts: &wrap.AttestationFacts{Policy: "check", Result: recorded},
			check: func([]byte, time.Time) (*attest.Result, error) {
				return nil, errors.New("the private key's EXTRACTABLE is true; it must be false")
			},
			err: "the attestation of gcp, recorded as holding by event #5, does not hold when checked again at 2026-11-29T12:00:00Z: the private key's EXTRACTABLE is true; it must be false"},
		{name: "copy changed", facts: &wrap.AttestationFacts{Policy: "required", Result: recorded}, check: same, change: true,
			err: "inputs/gcp/params.json has SHA-256 "},
		{name: "failure under check", facts: &wrap.AttestationFacts{Policy: "check", Failure: "certChains.caviumCerts is empty"},
			line: "attestation of gcp: did not hold at the ceremony, which went on (attestation: check): certChains.caviumCerts is empty"},
		{name: "skip", facts: &wrap.AttestationFacts{Policy: "skip"}},
		{name: "none", facts: nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, events := setup(t, c.facts)
			if c.change {
				os.WriteFile(filepath.Join(dir, "inputs", "gcp", "params.json"), append(job, ' '), 0o600)
			}
			lines, err := recheckAttestations(dir, events, c.check)
			switch {
			case c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)):
				t.Fatalf("got %v, want %s", err, c.err)
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err == "" && strings.Join(lines, "\n") != c.line:
				t.Fatalf("lines %q, want %q", lines, c.line)
			}
		})
	}
	// With this build's pinned roots, a record claiming the synthetic job is attested (a record
	// re-signed by someone who made their own chains) is refused.
	dir, events := setup(t, &wrap.AttestationFacts{Policy: "required", Result: recorded})
	_, err = Attestations(dir, events)
	if want := "the attestation of gcp, recorded as holding by event #5, does not hold when checked again at 2026-11-29T12:00:00Z: caviumCerts: no card certificate is issued by a pinned Marvell root"; err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
}
