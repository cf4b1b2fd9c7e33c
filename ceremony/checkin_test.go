//go:build cgo

package ceremony

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// TestCheckInFactsMatchWhatIsWritten: every event a check-in writes decodes strictly into its
// type (as TestFactsTypesMatchWhatIsWritten for a ceremony), the record verifies, holds no
// share, and the set's manifest is the one the ceremony sealed.
func TestCheckInFactsMatchWhatIsWritten(t *testing.T) {
	f := newFixture(t)
	if err := f.run(t, &Headless{Log: io.Discard, Secrets: secrets}, false); err != nil {
		t.Fatal(err)
	}
	manifests, _ := filepath.Glob(filepath.Join(f.out(), "backup-*", "backup-manifest.json"))
	shares, _ := filepath.Glob(filepath.Join(f.dir, "out-handouts", "backup-*", "share-*.age"))
	if len(manifests) != 1 || len(shares) != 2 {
		t.Fatalf("%d manifests, %d share files", len(manifests), len(shares))
	}
	plan := "version: 1\nkind: check-in\nceremony: check-in\nparticipants: [{role: administrator, name: Ada}, {role: witness, name: Wendy}]\n" +
		"check_in: {manifest: " + manifests[0] + ", ceremonies: [out], custodians: [Bob, Alice], interval_days: 30}\noutput: checkin\n"
	p, err := ParsePlan([]byte(plan), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	// Bob first: the share files go in the plan's order. Alice's share is entered for Bob.
	fp, err := RunCheckIn(CheckInOptions{Plan: p, UI: &Headless{Log: io.Discard, ShareFiles: []string{shares[0], shares[0]}}, Identities: f.ids})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.dir, "checkin")
	r := transcript.Verify(dir)
	if !r.OK || r.Fingerprint != fp {
		t.Fatalf("the check-in does not verify (%s) or is signed by %s, not %s", r.Problem, r.Fingerprint, fp)
	}
	var steps []string
	for _, ev := range r.Chain {
		var err error
		switch ev.Kind {
		case transcript.KindBegin:
			var outer transcript.BeginFacts
			json.Unmarshal(ev.Facts, &outer)
			var b BeginFacts
			if err = strictly(outer.Ceremony, &b); err == nil && (b.Kind != KindCheckIn || b.Interaction != ModeHeadless) {
				t.Errorf("begin facts %+v", b)
			}
		case transcript.KindException:
			err = strictly(ev.Facts, new(ExceptionFacts))
		case transcript.KindStep:
			facts := StepFacts(ev.Step)
			if facts == nil {
				t.Errorf("step %s has no facts type", ev.Step)
				continue
			}
			err = strictly(ev.Facts, facts)
			switch f := facts.(type) {
			case *CheckInSetFacts:
				if f.Manifest.SHA256 != sha256Hex(mustRead(t, manifests[0])) || f.IntervalDays != 30 || f.SigningKey != fp || f.SealedIn != "out" {
					t.Errorf("check-in-set facts %+v", f)
				}
			case *CheckInFacts:
				if want := f.Custodian == "Alice"; f.ShareVerified != want {
					t.Errorf("%s's check-in: share_verified %v, want %v", f.Custodian, f.ShareVerified, want)
				}
			}
		}
		if err != nil {
			t.Errorf("event %d (%s %s): %v\n%s", ev.Seq, ev.Kind, ev.Step, err, ev.Facts)
		}
		steps = append(steps, string(ev.Kind)+" "+ev.Step)
	}
	if got, want := strings.Join(steps, ", "), "begin begin, step check-in-set, exception check-in:2, step check-in:2, step check-in:1, end end"; got != want {
		t.Errorf("events: %s\nwant:   %s", got, want)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
