package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
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
	t.Run("ok-120x40", func(t *testing.T) {
		requireView(t, newReview(loadAudit(fixtureDir), colorprofile.Ascii, 120, 40), 120, 40)
	})
	// A tampered folder opens at its first bad event; the events after it are not checked.
	t.Run("bad-opens-at-first-bad", func(t *testing.T) {
		requireView(t, newTestReview(tamperedAudit(t)), 80, 24)
	})
	t.Run("bad-opens-at-first-bad-120x40", func(t *testing.T) {
		requireView(t, newReview(tamperedAudit(t), colorprofile.Ascii, 120, 40), 120, 40)
	})
	t.Run("exceptions-120x40", func(t *testing.T) {
		m := newReview(loadAudit(fixtureDir), colorprofile.Ascii, 120, 40)
		send(m, key("/"))
		send(m, typed("exception")...)
		send(m, key("enter"))
		requireView(t, m, 120, 40)
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
	want := map[int]eventStatus{0: verified, 8: verified, 9: firstBad, 10: notChecked, 12: notChecked}
	for seq, st := range want {
		if got := a.status(seq); got != st {
			t.Errorf("status(%d) = %s, want %s", seq, got.mark(), st.mark())
		}
	}
	if a.err() == nil {
		t.Fatal("a tampered transcript gives no error")
	}
}

// The filter reads kind and facts too: "/exception" finds every exception event, and a value
// found only in an event's facts finds that event.
func TestReviewFilterKindAndFacts(t *testing.T) {
	a := loadAudit(fixtureDir)
	var exceptions int
	for _, e := range a.events {
		if e.Kind == transcript.KindException {
			exceptions++
		}
	}
	if exceptions == 0 {
		t.Fatal("the fixture has no exception")
	}
	m := newTestReview(a)
	send(m, key("/"))
	send(m, typed("EXCEPTION")...)
	var got int
	for _, i := range m.shown {
		if a.events[i].Kind == transcript.KindException {
			got++
		}
	}
	if got != exceptions {
		t.Errorf("/exception shows %d of %d exceptions", got, exceptions)
	}
	send(m, key("esc"))
	send(m, key("/"))
	send(m, typed("CKA_SENSITIVE")...) // only in facts
	if len(m.shown) == 0 {
		t.Fatal("a value in the facts finds no event")
	}
	for _, i := range m.shown {
		if !strings.Contains(string(a.events[i].Facts), "CKA_SENSITIVE") {
			t.Errorf("event #%d shown without CKA_SENSITIVE in its facts", a.events[i].Seq)
		}
	}
}

// A review of a tampered folder opens on the first bad event, not on #0.
func TestReviewOpensAtFirstBad(t *testing.T) {
	m := newTestReview(tamperedAudit(t))
	e, ok := m.selected()
	if !ok || e.Seq != m.a.report.FirstBad || e.Seq == 0 {
		t.Fatalf("opened at #%d, first bad is #%d", e.Seq, m.a.report.FirstBad)
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
