package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
)

func newTestReview(a audit) *review { return newReview(a, colorprofile.Ascii, 80, 24) }

// tamperedDir is a copy of the fixture with the backup blob changed after the ceremony: the
// backup event (seq 9) is the first bad one.
func tamperedDir(t *testing.T) string {
	dir := copyFixture(t)
	if err := os.WriteFile(filepath.Join(dir, "backup-7K3MQ9XA", "backup-blob.bin"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func tamperedAudit(t *testing.T) audit {
	a := loadAudit(tamperedDir(t))
	a.dir = "rehearsal" // the temporary folder's name changes on every run
	return a
}

func TestGoldenReview(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		requireView(t, newTestReview(loadAudit(fixtureDir)), 80, 24)
	})
	t.Run("ok-details-scrolled", func(t *testing.T) {
		m := newTestReview(loadAudit(fixtureDir))
		send(m, key("pgdown"))
		requireView(t, m, 80, 24)
	})
	t.Run("bad-event", func(t *testing.T) {
		m := newTestReview(tamperedAudit(t))
		send(m, key("G"), key("up"), key("up"), key("up"))
		requireView(t, m, 80, 24)
	})
	t.Run("filter-typing", func(t *testing.T) {
		m := newTestReview(loadAudit(fixtureDir))
		send(m, key("/"))
		send(m, typed("Bo")...)
		requireView(t, m, 80, 24)
	})
	t.Run("filtered", func(t *testing.T) {
		m := newTestReview(loadAudit(fixtureDir))
		send(m, key("/"))
		send(m, typed("wrap")...)
		send(m, key("enter"), key("down"))
		requireView(t, m, 80, 24)
	})
	t.Run("filter-no-match", func(t *testing.T) {
		m := newTestReview(loadAudit(fixtureDir))
		send(m, key("/"))
		send(m, typed("zed")...)
		send(m, key("enter"))
		requireView(t, m, 80, 24)
	})
}

func TestReviewStatus(t *testing.T) {
	a := tamperedAudit(t)
	want := map[int]eventStatus{0: verified, 8: verified, 9: firstBad, 10: afterBad, 12: afterBad}
	for seq, st := range want {
		if got := a.status(seq); got != st {
			t.Errorf("status(%d) = %s, want %s", seq, got.mark(), st.mark())
		}
	}
	if a.err() == nil {
		t.Fatal("a tampered transcript gives no error")
	}
}

func TestReviewFilterKeepsSelection(t *testing.T) {
	m := newTestReview(loadAudit(fixtureDir))
	send(m, key("down"), key("down"), key("down"), key("down")) // generate-key, by Ana
	send(m, key("/"))
	send(m, typed("ana")...)
	e, _ := m.selected()
	if e.Step != "generate-key" {
		t.Fatalf("selection moved to %s", e.Step)
	}
	send(m, key("esc"))
	if len(m.shown) != len(m.a.events) || !m.filter.empty() {
		t.Fatal("Esc did not clear the filter")
	}
}

func TestReviewLines(t *testing.T) {
	var b bytes.Buffer
	if err := ReviewLines(&b, fixtureDir); err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, b.String())

	b.Reset()
	err := ReviewLines(&b, tamperedDir(t))
	if err == nil || !strings.Contains(b.String(), "[✗ FIRST BAD]") || !strings.Contains(b.String(), "✗ NOT VERIFIED: ") ||
		!strings.Contains(b.String(), "; the facts below are not proven\n") {
		t.Fatalf("tampered transcript: err %v\n%s", err, b.String())
	}
}
