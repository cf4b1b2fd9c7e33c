package paper

import "fmt"

// Runbook is what the printed script of a ceremony says, from its plan.
type Runbook struct {
	Ceremony     string
	Kind         string // generate, restore, ...
	Key          string // label and type
	Date         string // the planned day, as the person printing it gives it
	PlanSHA256   string
	BinarySHA256 string
	People       []Person
	Steps        []Step
	// Fields are the values written down by hand during the ceremony, in the order they come up.
	Fields []Field
}

// Person is a participant and their role.
type Person struct{ Name, Role string }

// Step is one numbered step: who acts and what they check.
type Step struct{ Title, Who, Check string }

// Field is a value copied by hand from the screen. ReadBack fields get one box per read-back
// group (internal/readback), the form the witness types back.
type Field struct {
	Label    string
	ReadBack bool
}

// ReadBackGroups is how many groups a read-back field has (readback.Groups).
const ReadBackGroups = 8

// PDF lays the runbook out: title page, roles, the script with a checkbox and initials line per
// step, the fields to write by hand, an exception sheet and a sign-off page per participant.
func (r Runbook) PDF() ([]byte, error) {
	d := newDoc("Runbook: " + r.Ceremony)
	d.y = 140
	d.lines(fontBold, 24, margin, textW, "Key ceremony runbook")
	d.y += 8
	d.lines(fontBold, 16, margin, textW, r.Ceremony)
	d.y += 20
	d.pair("Kind", r.Kind)
	d.pair("Key", r.Key)
	d.pair("Date", r.Date)
	d.pair("Plan SHA-256", r.PlanSHA256)
	d.pair("Binary SHA-256", r.BinarySHA256)
	d.y += 20
	d.text("Before the ceremony, check the plan's SHA-256 above against `keyceremony plan check` on the ceremony machine, and the binary's against the release's SHA256SUMS. Tick each step as it is done and initial it; write anything that did not go as planned on the exception sheet.")

	d.page()
	d.heading("Roles")
	for _, p := range r.People {
		d.pair(p.Role, p.Name)
	}

	d.heading("The script")
	for i, s := range r.Steps {
		d.room(70)
		top := d.y
		d.box(margin)
		d.lines(fontBold, 11, margin+18, textW-18, fmt.Sprintf("%d. %s", i+1, s.Title))
		d.lines(fontText, 9, margin+18, textW-18, "Who: "+s.Who)
		d.lines(fontText, 9, margin+18, textW-18, "Check: "+s.Check)
		d.y = max(d.y, top+14) + 14
		d.font(fontText, 9)
		d.pdf.SetXY(margin+18, d.y-9)
		d.keep(d.pdf.Cell(nil, "Initials"))
		d.pdf.Line(margin+58, d.y, margin+160, d.y)
		d.pdf.SetXY(margin+180, d.y-9)
		d.keep(d.pdf.Cell(nil, "Time"))
		d.pdf.Line(margin+206, d.y, margin+280, d.y)
		d.y += 12
	}

	d.page()
	d.heading("Written by hand during the ceremony")
	d.text("Copy each value from the screen as it is shown. Read-back values go one group per box, with the check letter after the dash: the witness types them back from this sheet.")
	d.y += 6
	for _, f := range r.Fields {
		g := 0
		if f.ReadBack {
			g = ReadBackGroups
		}
		d.field(f.Label, g)
	}

	d.page()
	d.heading("Exception sheet")
	d.text("Anything that did not go as the script says: the step, the time, what happened, what was decided and who decided it. The witness initials each entry.")
	for i := range 4 {
		d.subheading(fmt.Sprintf("Exception %d", i+1))
		d.text("Step:                Time:                Witness initials:")
		d.blankLines(4)
	}

	for _, p := range r.People {
		d.page()
		d.heading("Sign-off: " + p.Name)
		d.pair("Role", p.Role)
		d.pair("Ceremony", r.Ceremony)
		d.pair("Plan SHA-256", r.PlanSHA256)
		d.y += 10
		d.text(fmt.Sprintf("I, %s, took part in this ceremony as %s. The steps I acted in or watched went as this runbook records, and every departure from it is on the exception sheet.", p.Name, p.Role))
		d.y += 10
		d.field("Checkpoint SHA-256 as the screen shows it at the seal", 0)
		d.field("Signature", 0)
		d.field("Printed name", 0)
		d.field("Date and time", 0)
	}
	return d.bytes()
}
