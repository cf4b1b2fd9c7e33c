//go:build cgo

package ceremony

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/readback"
)

// The key's check value is put in front of the witness, large, and typed back: a slip is recorded
// as the witness's exception and asked again; the key's event records who confirmed it and how.
// The step's actor is the person asked.
func TestKeyCheckValueSignOff(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	var stepActor Actor
	p.onStep = func(id string) {
		if id == stepGenerateKey {
			p.answers = []string{"000000"}
		}
	}
	steps := map[string]Actor{}
	for _, s := range f.plan(t).Script() {
		steps[s.ID] = s.Actor
	}
	stepActor = steps[stepGenerateKey]
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	var asked []ConfirmRequest
	for _, r := range p.asked {
		if r.Large != "" {
			asked = append(asked, r)
		}
	}
	if len(asked) != 2 || asked[1].LastError != "the key check value does not match; read it again" {
		t.Fatalf("the key check value was asked %d times: %+v", len(asked), asked)
	}
	if asked[0].Actor != stepActor || stepActor.Name != "Wendy" {
		t.Errorf("the step names %v, the witness asked is %v", stepActor, asked[0].Actor)
	}
	evs := events(t, f.out())
	var key struct {
		KCV          string
		KCVConfirmed Confirmation `json:"kcv_confirmed"`
	}
	factsOf(t, stepEvent(t, evs, stepGenerateKey), &key)
	if key.KCVConfirmed != (Confirmation{By: Actor{Role: RoleWitness, Name: "Wendy"}, How: ConfirmedTypedBack}) {
		t.Errorf("kcv_confirmed: %+v", key.KCVConfirmed)
	}
	if asked[0].Large != strings.ToUpper(key.KCV) {
		t.Errorf("shown %q, recorded %q", asked[0].Large, key.KCV)
	}
	if n := exceptionsOf(evs, "Wendy (witness) typed back a key check value that does not match (attempt 1): the key check value does not match"); n != 1 {
		t.Errorf("%d exceptions for the slip, want 1", n)
	}
}

// The witness confirms the paper log's summary before the seal; the summary is recorded with the
// confirmation, the end event has the witness as actor, and no event has an empty actor.
func TestClosingSignOff(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	var summary ConfirmRequest
	for _, r := range p.asked {
		if strings.HasPrefix(r.Prompt, "Copy this summary onto the paper log") {
			summary = r
		}
	}
	evs := events(t, f.out())
	var begin transcript.BeginFacts
	factsOf(t, evs[0], &begin)
	var backup struct {
		SetID string `json:"set_id"`
	}
	factsOf(t, stepEvent(t, evs, stepBackup), &backup)
	for _, want := range []string{
		"Signing key fingerprint: " + begin.Fingerprint,
		"Key \"data-key\", AES-256, key check value ",
		"Share set " + backup.SetID + ": any 2 of 2 restore",
		"  share 1: Alice, file ",
		"Package aws: targets/aws/, wrapped under " + fingerprintOf(f.kek),
		"Exceptions: 0",
	} {
		if !strings.Contains(summary.Detail, want) {
			t.Errorf("the summary has no %q:\n%s", want, summary.Detail)
		}
	}
	if summary.Actor.Name != "Wendy" || summary.TypeBack {
		t.Errorf("the summary was confirmed by %v (type-back %v)", summary.Actor, summary.TypeBack)
	}
	end, signOff := evs[len(evs)-1], evs[len(evs)-2]
	var so struct {
		Summary   []string
		Confirmed Confirmation
	}
	factsOf(t, signOff, &so)
	if signOff.Step != stepSignOff || so.Confirmed != (Confirmation{By: Actor{Role: RoleWitness, Name: "Wendy"}, How: ConfirmedTypedYes}) ||
		strings.Join(so.Summary, "\n") != summary.Detail {
		t.Errorf("the event before the end: %s %s", signOff.Step, signOff.Facts)
	}
	if end.Kind != transcript.KindEnd || end.Actor != (transcript.Actor{Role: RoleWitness, Name: "Wendy"}) {
		t.Errorf("the end event: %+v", end.Actor)
	}
	for _, ev := range evs {
		if ev.Actor.Name == "" {
			t.Errorf("event %d (%s) has no named actor: %+v", ev.Seq, ev.Step, ev.Actor)
		}
	}
}

func exceptionsOf(evs []transcript.Event, prefix string) int {
	n := 0
	for _, ev := range evs {
		var f struct{ Exception string }
		if ev.Kind == transcript.KindException && json.Unmarshal(ev.Facts, &f) == nil && strings.HasPrefix(f.Exception, prefix) {
			n++
		}
	}
	return n
}

// A share is not shown into a session that looks recorded unless its custodian says so; the
// record says it was, why, and who went on.
func TestRecordedSessionIsConfirmedAndRecorded(t *testing.T) {
	f := newFixture(t)
	plan, _ := os.ReadFile(f.planPath)
	plan = regexp.MustCompile(`\{name: Alice, delivery: age-recipient, recipient: [a-z0-9]+\}`).ReplaceAll(plan, []byte("{name: Alice, delivery: typed}"))
	os.WriteFile(f.planPath, plan, 0o600)
	p := atTerminal(f)
	p.recording = []string{"script is running above keyceremony"}
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	var asked []ConfirmRequest
	for _, r := range p.asked {
		if strings.HasPrefix(r.Prompt, "This session looks recorded") {
			asked = append(asked, r)
		}
	}
	if len(asked) != 1 || asked[0].Actor.Name != "Alice" || asked[0].Prompt != "This session looks recorded: show your share anyway?" ||
		!strings.HasPrefix(asked[0].Detail, "script is running above keyceremony. A recording keeps every share shown.") {
		t.Fatalf("asked before the share was shown: %+v", asked)
	}
	if n := exceptionsOf(events(t, f.out()), "the share was shown although the session looked recorded (script is running above keyceremony); Alice (custodian) confirmed"); n != 1 {
		t.Errorf("%d exceptions record it, want 1", n)
	}
}

// A key pair has no check value: the witness types back its public key fingerprint in read-back
// form, and the key's event records who did.
func TestKeyPairFingerprintSignOff(t *testing.T) {
	f := newFixture(t)
	plan, _ := os.ReadFile(f.planPath)
	plan = regexp.MustCompile(`(?s)targets:.*output: out`).ReplaceAll(plan, []byte("output: out"))
	plan = []byte(strings.Replace(string(plan), "type: AES-256", "type: EC P-256", 1))
	os.WriteFile(f.planPath, plan, 0o600)
	p := atTerminal(f)
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	var key struct {
		Fingerprint          string
		FingerprintConfirmed Confirmation `json:"fingerprint_confirmed"`
	}
	factsOf(t, stepEvent(t, events(t, f.out()), stepGenerateKey), &key)
	if key.FingerprintConfirmed != (Confirmation{By: Actor{Role: RoleWitness, Name: "Wendy"}, How: ConfirmedTypedBack}) {
		t.Errorf("fingerprint_confirmed: %+v", key.FingerprintConfirmed)
	}
	var shown bool
	for _, r := range p.asked {
		shown = shown || strings.HasPrefix(r.Prompt, "Write the public key fingerprint") && r.TypeBack && r.Large == "" &&
			strings.HasSuffix(r.Detail, "Read-back form: "+readback.Format(key.Fingerprint))
	}
	if key.Fingerprint == "" || !shown {
		t.Errorf("the fingerprint %q was not put to the witness in read-back form: %+v", key.Fingerprint, p.asked)
	}
}

// An operator's stop is an interruption, not a failure: recorded in its own words, returned with
// the folder to resume or abort. The abort then asks the administrator to confirm and why, records
// both, and is not recorded as a resume.
func TestStopThenAbortWithReason(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	p.onStep = func(id string) {
		if id == "check-wrapping-key:aws" {
			p.answers = []string{stop}
		}
	}
	err := f.run(t, p, false)
	var in *Interrupted
	if !errors.As(err, &in) || !errors.Is(err, ErrAborted) || in.Dir != f.out() {
		t.Fatalf("got %v, want an operator stop in %s", err, f.out())
	}
	want := "the ceremony was stopped by the operator at step 4 of 13 (Check the AWS KMS wrapping key of target aws); the transcript in " + f.out() +
		" records every step done so far\nhint: continue it with 'keyceremony run --resume " + f.out() + "', or end it with 'keyceremony run --abort " + f.out() + "'"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if n := exceptionsOf(events(t, f.out()), "the operator stopped the ceremony at this step"); n != 1 {
		t.Errorf("%d stop exceptions, want 1", n)
	}
	p = atTerminal(f)
	p.onStep = func(id string) {
		if id == stepAbort {
			p.answers = []string{"yes", " ", "  the HSM  is needed elsewhere "} // a blank reason is asked again
		}
	}
	if err := Run(Options{Plan: f.plan(t), PlanPath: f.planPath, UI: p, Abort: true}); err != nil {
		t.Fatal(err)
	}
	evs := events(t, f.out())
	abort := evs[len(evs)-2]
	var facts struct {
		Exception, Reason string
		Confirmed         Confirmation
	}
	factsOf(t, abort, &facts)
	if abort.Step != stepAbort || facts.Reason != "the HSM is needed elsewhere" || facts.Confirmed != (Confirmation{By: Actor{Role: RoleAdministrator, Name: "Ada"}, How: ConfirmedTypedYes}) ||
		!strings.HasPrefix(facts.Exception, "the ceremony ended without finishing, aborted by Ada (administrator): the HSM is needed elsewhere; steps not done: check-wrapping-key:aws, generate-key,") {
		t.Errorf("the abort event: %s", abort.Facts)
	}
	if n := exceptionsOf(evs, "ceremony resumed"); n != 0 {
		t.Error("the abort was recorded as a resume")
	}
}

// After a restore the witness types back the restored key's check value too, told that it
// matches the backup manifest; the collect step names the quorum that gave their shares.
func TestRestoreSignOff(t *testing.T) {
	f := newFixture(t)
	gen := atTerminal(f)
	if err := f.run(t, gen, false); err != nil {
		t.Fatal(err)
	}
	var backup struct {
		SetID string `json:"set_id"`
		KCV   string
	}
	factsOf(t, stepEvent(t, events(t, f.out()), stepBackup), &backup)
	rp, path := writeRestorePlan(t, f.dir, "data-key", "out/backup-"+backup.SetID, "[out]", "")
	p := atTerminal(f)
	p.quorum = []string{gen.files["Bob"], gen.files["Alice"]}
	if err := Run(Options{Plan: rp, PlanPath: path, UI: p, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	var asked *ConfirmRequest
	for i, r := range p.asked {
		if r.Large != "" {
			asked = &p.asked[i]
		}
	}
	if asked == nil || asked.Large != strings.ToUpper(backup.KCV) || !strings.Contains(asked.Detail, "restored: it matches the backup manifest") || asked.Actor.Name != "Wendy" {
		t.Fatalf("the restored key's check value was not put to the witness: %+v", asked)
	}
	evs := events(t, rp.OutputDir())
	var key struct {
		KCVConfirmed Confirmation `json:"kcv_confirmed"`
	}
	factsOf(t, stepEvent(t, evs, stepRestoreKey), &key)
	if key.KCVConfirmed != (Confirmation{By: Actor{Role: RoleWitness, Name: "Wendy"}, How: ConfirmedTypedBack}) {
		t.Errorf("kcv_confirmed: %+v", key.KCVConfirmed)
	}
	if a := stepEvent(t, evs, stepCollect).Actor; a.Name != "Bob, Alice" {
		t.Errorf("the collect step's actor is %+v, want the quorum that acted", a)
	}
}
