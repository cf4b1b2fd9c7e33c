package transcript

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// frozenV1 is a ceremony folder exactly as keyceremony wrote it on 2026-11-29 (a headless
// rehearsal on a throwaway SoftHSM2 token: AES-256 key, 2-of-3 backup, AWS, GCP and Azure
// packages), before the transcript's byte form was specified and before "handouts are not the
// record". Every later verifier must accept it unchanged.
//
// Two files of that folder are left out: the share files backup-*/share-*.age (handouts,
// which the backup event names; verification allows them to be absent, see isHandout) and
// plan.source (an unsigned pointer to the plan's path on the machine that ran the ceremony,
// which no event names).
const frozenV1 = "testdata/frozen-v1"

func TestFrozenV1Verifies(t *testing.T) {
	r := Verify(frozenV1)
	if !r.OK {
		t.Fatalf("the frozen v1 transcript does not verify: %s", r.Problem)
	}
	const fp = "SHA256:1471628e10df11f46379ffe743073dfa4c5828f6b000c2e348c236371b0b994d"
	if r.Events != 16 || r.Fingerprint != fp {
		t.Errorf("verified %d events signed by %s, want 16 by %s", r.Events, r.Fingerprint, fp)
	}
	var absent []string
	for _, l := range r.Lines {
		if p, ok := strings.CutPrefix(l, "handout not in the folder: "); ok {
			absent = append(absent, p)
		}
	}
	want := []string{"backup-ZDF9PB0H/share-1-alice.age", "backup-ZDF9PB0H/share-2-bob.age", "backup-ZDF9PB0H/share-3-carol.age"}
	if !slices.Equal(absent, want) {
		t.Errorf("handouts reported absent: %q, want %q", absent, want)
	}
	checkAgree(t, "frozen v1", r, runShell(t, frozenV1))
}

// A handout may be absent, but one that is there must be the one the backup event names.
func TestFrozenV1HandoutPresentMustMatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(frozenV1)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "backup-ZDF9PB0H/share-2-bob.age", "not bob's share\n")
	r := Verify(dir)
	const want = "event 11: file backup-ZDF9PB0H/share-2-bob.age differs from its recorded SHA-256"
	if r.OK || r.Problem != want {
		t.Fatalf("Verify: OK %v, problem %q, want %q", r.OK, r.Problem, want)
	}
	checkAgree(t, "frozen v1 with a changed handout", r, runShell(t, dir))
}
