package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/machine"
	"github.com/keyceremony/keyceremony/paper"
	"github.com/keyceremony/keyceremony/wrap"
)

// cmdPlanPrint writes the printed runbook of a plan: the numbered script with a checkbox and
// initials line per step, the values to write by hand, an exception sheet and sign-off pages.
func cmdPlanPrint(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plan print", "plan print PLAN --out FILE.pdf [--date YYYY-MM-DD]", stderr)
	out := fs.String("out", "", "the PDF to write (it must not exist)")
	date := fs.String("date", time.Now().Format(time.DateOnly), "the day of the ceremony, printed on the title page")
	pos, err := parse(fs, args, operands{"plan", 1, 1})
	if err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("plan print needs --out FILE.pdf\nhint: keyceremony plan print %s --out runbook.pdf", pos[0])
	}
	if _, err := time.Parse(time.DateOnly, *date); err != nil {
		return fmt.Errorf("--date %q is not a date\nhint: give it as YYYY-MM-DD", *date)
	}
	p, err := ceremony.LoadPlan(pos[0])
	if err != nil {
		return err
	}
	bin, err := machine.BinarySHA256()
	if err != nil {
		return err
	}
	pdf, err := runbook(p, *date, bin).PDF()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteOnce(*out, pdf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote the runbook of %s to %s (%d steps)\n", p.Ceremony, *out, len(p.Script()))
	return nil
}

// keysOf names the plan's keys and their types for the runbook.
func keysOf(p *ceremony.Plan) string {
	var keys []string
	for _, v := range p.Views() {
		keys = append(keys, fmt.Sprintf("%q, %s", v.Key.Label, v.Key.Type))
	}
	return strings.Join(keys, "; ")
}

// runbook is what the printed script says of a plan.
func runbook(p *ceremony.Plan, date, binarySHA256 string) paper.Runbook {
	r := paper.Runbook{
		Ceremony:     p.Ceremony,
		Kind:         p.Kind,
		Key:          keysOf(p),
		Date:         date,
		PlanSHA256:   p.SHA256(),
		BinarySHA256: binarySHA256,
	}
	if p.Kind == ceremony.KindCheckIn {
		r.Key = "none: custodians prove their shares of the set in " + p.CheckIn.Manifest
	}
	for _, a := range p.Participants {
		r.People = append(r.People, paper.Person{Name: a.Name, Role: a.Role})
	}
	for _, s := range p.Script() {
		r.Steps = append(r.Steps, paper.Step{Title: s.Title, Who: s.Actor.String(), Check: s.Instructions})
	}
	r.Fields = append(r.Fields, paper.Field{Label: "Ceremony signing key fingerprint (read-back form)", ReadBack: true})
	for _, t := range p.CheckedTargets() {
		r.Fields = append(r.Fields, paper.Field{Label: fmt.Sprintf("Wrapping key fingerprint of target %s (%s), from the printed import request", t.Name, wrap.CloudName(t.Profile)), ReadBack: true})
	}
	if p.Kind == ceremony.KindCheckIn {
		r.Fields = append(r.Fields, paper.Field{Label: "Share set id"})
	} else {
		for _, v := range p.Views() {
			if v.KeySpec().IsSecret() {
				r.Fields = append(r.Fields, paper.Field{Label: fmt.Sprintf("Key check value of %q", v.Key.Label)})
			} else {
				r.Fields = append(r.Fields, paper.Field{Label: fmt.Sprintf("Public key fingerprint of %q (read-back form)", v.Key.Label), ReadBack: true})
			}
		}
	}
	if b := p.Backup; b != nil {
		sets := []string{""}
		if b.Sets == ceremony.SetsPerKey {
			sets = sets[:0]
			for _, k := range p.Keys {
				sets = append(sets, fmt.Sprintf(" of key %q", k.Label))
			}
		}
		for _, of := range sets {
			r.Fields = append(r.Fields, paper.Field{Label: fmt.Sprintf("Share set id%s (any %d of %d restore)", of, b.Threshold, len(b.Custodians))})
			for i, c := range b.Custodians {
				if b.Bags {
					r.Fields = append(r.Fields, paper.Field{Label: fmt.Sprintf("Share %d%s, held by %s: serial of its tamper-evident bag", i+1, of, c.Name)})
				}
			}
		}
	}
	r.Fields = append(r.Fields, paper.Field{Label: "Checkpoint SHA-256 (shown at the seal)"})
	return r
}
