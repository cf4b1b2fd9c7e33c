package ceremony

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/wrap"
	"github.com/keyceremony/keyceremony/wrap/attest"
)

// Attestations checks again, for verify, each HSM attestation a verified transcript recorded:
// on the import job's JSON pinned in the record, at the check time recorded, against this
// build's pinned roots. A result recorded as holding must hold again and be the same result; a
// failure recorded under attestation: check is said as it is. It returns a line per checked
// target.
func Attestations(dir string, events []transcript.Event) ([]string, error) {
	return recheckAttestations(dir, events, func(job []byte, at time.Time) (*attest.Result, error) {
		return attest.CheckGCP(job, nil, at)
	})
}

func recheckAttestations(dir string, events []transcript.Event, check func([]byte, time.Time) (*attest.Result, error)) ([]string, error) {
	var lines []string
	for _, ev := range events {
		if ev.Kind != transcript.KindStep || !strings.HasPrefix(ev.Step, stepCheckWrapKey+":") {
			continue
		}
		var f CheckWrappingKeyFacts
		if err := json.Unmarshal(ev.Facts, &f); err != nil {
			return nil, fmt.Errorf("event #%d (%s): %v", ev.Seq, ev.Step, err)
		}
		a := f.Attestation
		switch {
		case a == nil || a.Policy == wrap.AttestationSkip:
			continue
		case a.Result == nil:
			lines = append(lines, fmt.Sprintf("attestation of %s: did not hold at the ceremony, which went on (attestation: %s): %s", f.Target, a.Policy, a.Failure))
			continue
		}
		in, ok := f.Inputs["params"]
		if !ok {
			return nil, fmt.Errorf("event #%d (%s) records an attestation but pins no import job", ev.Seq, ev.Step)
		}
		job, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(in.Copy)))
		if err != nil {
			return nil, fmt.Errorf("the import job %s pinned by event #%d: %v", in.Copy, ev.Seq, err)
		}
		// The copy is read again here: it must still be the bytes the event signed.
		if got := sha256Hex(job); got != in.SHA256 {
			return nil, fmt.Errorf("%s has SHA-256 %s, not the %s event #%d recorded; it changed after it was verified", in.Copy, got, in.SHA256, ev.Seq)
		}
		r, err := check(job, a.Result.CheckedAt)
		if err != nil {
			return nil, fmt.Errorf("the attestation of %s, recorded as holding by event #%d, does not hold when checked again at %s: %v", f.Target, ev.Seq, a.Result.CheckedAt.Format(time.RFC3339), err)
		}
		again, _ := json.Marshal(r)
		recorded, _ := json.Marshal(a.Result)
		if !bytes.Equal(again, recorded) {
			return nil, fmt.Errorf("the attestation of %s checked again differs from what event #%d recorded:\n  recorded %s\n  now      %s", f.Target, ev.Seq, recorded, again)
		}
		lines = append(lines, fmt.Sprintf("attestation of %s checked again: it holds (%s, pinned roots, at %s)", f.Target, r.Format, r.CheckedAt.Format(time.RFC3339)))
	}
	return lines, nil
}
