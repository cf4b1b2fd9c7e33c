package paper

import "fmt"

// Report is the auditor's report of a ceremony folder. A folder that does not verify gets one
// page: NOT VERIFIED and the first problem, nothing read from its events.
type Report struct {
	Folder   string
	Verified bool
	// Verdict are the verifier's lines, ending in its verdict.
	Verdict []string
	// Sections (keys, share sets and holders, packages, witnesses) follow the verdict; the
	// timeline comes last.
	Sections []Section
	Timeline []Entry
	// NotCosigned says why the witnesses the auditor listed did not cosign a quorum; it stands
	// under the verdict. Empty when they did, or when none were listed.
	NotCosigned string
}

// Section is a titled list of lines.
type Section struct {
	Title string
	Lines []string
}

// Entry is one event of the timeline.
type Entry struct {
	Seq               int
	Time, Actor, Step string
	What              string
	Exception         bool // highlighted
}

// PDF lays the report out, verdict first.
func (r Report) PDF() ([]byte, error) {
	d := newDoc("Ceremony report: " + r.Folder)
	d.lines(fontBold, 20, margin, textW, "Ceremony report")
	d.pair("Folder", r.Folder)
	d.y += 10
	if !r.Verified {
		d.pdf.SetTextColor(170, 0, 0)
		d.lines(fontBold, 28, margin, textW, "NOT VERIFIED")
		d.pdf.SetTextColor(0, 0, 0)
		d.y += 6
		d.text("This folder does not verify, so nothing in it is reported: its events prove nothing. The verifier says:")
		d.y += 4
		for _, l := range r.Verdict {
			d.mono(9, l)
		}
		return d.bytes()
	}
	d.lines(fontBold, 20, margin, textW, "VERIFIED")
	if r.NotCosigned != "" {
		d.pdf.SetTextColor(170, 0, 0)
		d.lines(fontBold, 16, margin, textW, "NOT COSIGNED BY A QUORUM OF THE WITNESSES")
		d.pdf.SetTextColor(0, 0, 0)
		d.text(r.NotCosigned)
	}
	d.y += 4
	for _, l := range r.Verdict {
		d.mono(9, l)
	}
	for _, s := range r.Sections {
		d.heading(s.Title)
		if len(s.Lines) == 0 {
			d.text("none")
		}
		// Monospace, small: hashes and fingerprints stay on one line, to be compared.
		for _, l := range s.Lines {
			d.mono(7.5, l)
		}
	}
	d.heading("Timeline")
	exceptions := 0
	for _, e := range r.Timeline {
		if e.Exception {
			exceptions++
		}
	}
	d.text(fmt.Sprintf("%d events, %d exceptions (marked EXCEPTION). Times are as the ceremony machine's clock recorded them (UTC).", len(r.Timeline), exceptions))
	d.y += 4
	for _, e := range r.Timeline {
		d.room(30)
		head := fmt.Sprintf("%d  %s  %s  by %s", e.Seq, e.Time, e.Step, e.Actor)
		if e.Exception {
			d.pdf.SetTextColor(170, 0, 0)
			d.lines(fontBold, 9.5, margin, textW, "EXCEPTION  "+head)
		} else {
			d.lines(fontBold, 9.5, margin, textW, head)
		}
		if e.What != "" {
			d.lines(fontText, 9, margin+18, textW-18, e.What)
		}
		d.pdf.SetTextColor(0, 0, 0)
		d.y += 3
	}
	return d.bytes()
}
