package ui

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// audit is what a review shows: the verification report and the events as read. The two come
// apart on purpose: Verify stops at the first problem, Read lists every event, so events after a
// bad one are still shown, marked as not checked: nothing proves or disproves them.
type audit struct {
	dir     string
	report  transcript.Report
	events  []transcript.Event
	readErr error // the events could not be listed (a line that is not an event at all)
}

func loadAudit(dir string) audit {
	a := audit{dir: dir, report: transcript.Verify(dir)}
	a.events, a.readErr = transcript.Read(dir)
	return a
}

// eventStatus is an event's standing in the report.
type eventStatus int

const (
	verified   eventStatus = iota
	firstBad               // the event Verify names
	notChecked             // Verify stopped before it: after the first bad event, or for a reason that is not an event's
)

func (a audit) status(seq int) eventStatus {
	switch {
	case a.report.FirstBad >= 0 && seq == a.report.FirstBad:
		return firstBad
	case (a.report.FirstBad < 0 || seq < a.report.FirstBad) && seq < a.report.Events:
		return verified
	}
	return notChecked
}

// mark is a status as a symbol and a word: never colour alone.
func (s eventStatus) mark() string {
	return [...]string{"✓ verified", "✗ FIRST BAD", "· not checked"}[s]
}

// verdict is the report's outcome in a sentence, with its symbol.
func (a audit) verdict() string {
	r := a.report
	if r.OK && transcript.Headless(r.Chain) {
		return fmt.Sprintf("✓ VERIFIED: %d events; chain, signatures, files and seal all hold; %s", r.Events, transcript.HeadlessNote)
	}
	if r.OK {
		return fmt.Sprintf("✓ VERIFIED: %d events; chain, signatures, files and seal all hold", r.Events)
	}
	return "✗ " + r.Banner()
}

// detail is an event as transcript.Show writes it for `keyceremony show`, so the review and the
// command line read the same.
func detail(e transcript.Event) []string {
	var b bytes.Buffer
	_ = transcript.Show(&b, []transcript.Event{e}) // writes to memory: cannot fail
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}

// matches says whether an event's kind, step, actor or facts contain the filter text, case
// ignored: "exception" finds every exception, a label or a fingerprint finds the events naming it.
func matches(e transcript.Event, filter string) bool {
	f := strings.ToLower(filter)
	for _, s := range []string{string(e.Kind), e.Step, e.Actor.Name, e.Actor.Role, string(e.Facts)} {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return false
}
