//go:build cgo

package ceremony

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/version"
	"github.com/keyceremony/keyceremony/wrap"
)

// Options configure one run of the engine.
type Options struct {
	Plan *Plan
	// PlanPath is where the plan file is; it is recorded for resume.
	PlanPath string
	UI       Interaction
	// Resume continues the ceremony in the plan's output folder from its transcript.
	Resume bool
	// Abort ends an interrupted ceremony instead of resuming it: unsealed share sets are voided,
	// the abort is recorded with what was and was not done, and the transcript is sealed.
	// It implies Resume.
	Abort bool
	// AbortReason is why the ceremony is aborted, for the record; a headless abort needs it,
	// a person is asked for it when it is empty.
	AbortReason string
	// Identities open age-recipient share files in the verification round when no person is at
	// the screen (headless runs and rehearsals).
	Identities []age.Identity
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BagSerials are the tamper-evident bag serials by custodian, typed by no one at the screen:
	// for headless runs of a plan with backup.bags, at handout or restore.
	BagSerials map[string]string
}

// engine runs one plan. It holds every ceremony decision; the Interaction only shows and asks.
type engine struct {
	Options
	// plan is the plan as the running step sees it: whole, or for a step about one key of a
	// keys: plan, that key's view (Plan.Views), whose key is then key.
	plan  *Plan
	whole *Plan
	ui    Interaction
	out   string
	steps []Step
	cur   int
	done  map[string]bool // step ids recorded in the transcript before this run

	mod  *hsm.Module
	sess *hsm.Session
	tr   *transcript.Writer
	key  *hsm.Key
	id   hsm.Identity
	// loaded are the keys of a keys: plan found or made in this run, by label, while steps
	// about other keys run.
	loaded map[string]loadedKey

	oldManifest    *backup.Manifest // restore, reshare
	oldManifestRaw []byte           // its bytes, pinned in the record
	oldBags        map[int]string   // bag serials its handouts recorded, by share index
	oldBlob        []byte
	oldOthers      []oldKey // a re-share of a set shared by several keys: the set's other keys
	collector      *backup.Collector

	// recorded holds the step events written in this run, by step id; prior, on resume, the
	// events written before it, as they verified.
	recorded map[string]transcript.Event
	prior    []transcript.Event

	trusted   *trusted // objects the security officer marked CKA_TRUSTED in this run
	beganWith string   // on resume, the SHA-256 of the binary the begin event records
	evidence  evidence // what ran, and where: read before the token is touched
	finished  bool     // the ceremony was sealed before this run: finishSealed did what was left

	started bool            // the transcript holds its begin event
	ended   bool            // the transcript holds its end event: only the seal remains
	pending [][2]string     // exceptions (step, what) to record once the transcript is open
	seen    map[string]bool // exceptions recorded since the last step; see exceptionOnce
	named   map[string]bool // files named by the events of a resumed ceremony
}

// Run carries out the plan, or resumes it. Every effect is journalled in the transcript before it
// is announced; an interrupted run is resumed from the transcript and never repeats an effect blindly.
func Run(o Options) error {
	if o.Plan.Kind == KindCheckIn {
		return fmt.Errorf("plan %s is a check-in, which touches no HSM\nhint: run it with 'keyceremony check-in %s'", o.Plan.Ceremony, o.PlanPath)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Resume = o.Resume || o.Abort
	if err := o.headlessBags(); err != nil {
		return err
	}
	e := &engine{Options: o, plan: o.Plan, whole: o.Plan, loaded: map[string]loadedKey{}, ui: o.UI, out: o.Plan.OutputDir(), done: map[string]bool{}, recorded: map[string]transcript.Event{}, seen: map[string]bool{}, named: map[string]bool{}}
	defer e.close()
	if err := e.prepare(); err != nil || e.finished {
		return err
	}
	// A sealed ceremony needs no reason: an abort only finishes what its seal left.
	if e.Abort && !e.ended && e.AbortReason == "" && e.ui.Mode() == ModeHeadless {
		return errs.Unchanged("an abort records why the ceremony ended without finishing, and this run is headless", "pass --reason TEXT")
	}
	e.steps = e.whole.Script()
	switch {
	case e.ended:
		// Resume and abort alike finish the seal that was cut short.
		e.steps = append(e.steps[:2:2], e.steps[len(e.steps)-1])
	case e.Abort:
		e.steps = append(e.steps[:2:2], e.plan.abortStep())
	}
	for i := range e.steps {
		if e.done[e.steps[i].ID] {
			e.steps[i].Status = Done
		}
	}
	for e.cur = 0; e.cur < len(e.steps); e.cur++ {
		if e.steps[e.cur].Status == Done {
			continue
		}
		if err := e.runStep(); err != nil {
			e.steps[e.cur].Status = Failed
			e.ui.Script(e.steps, e.cur)
			what := "step failed: " + firstLine(err.Error())
			switch {
			case errors.Is(err, ErrAborted):
				what = "the operator stopped the ceremony at this step"
			case errors.Is(err, ErrEndOfInput):
				what = "the input ended at this step: nobody was there to answer"
			}
			e.exceptionOnce(e.steps[e.cur].ID, what)
			return e.interrupted(err)
		}
	}
	return nil
}

func (e *engine) close() {
	if e.trusted != nil {
		e.dropTrusted(e.trusted)
	}
	if e.sess != nil {
		e.sess.Close()
	}
	if e.mod != nil {
		e.mod.Close()
	}
	if e.tr != nil {
		e.tr.Close()
	}
	if e.collector != nil {
		e.collector.Zero()
	}
}

// prepare validates the plan against the world (a new run) or against the output folder (resume),
// before the token is touched.
func (e *engine) prepare() error {
	if !e.Resume {
		warnings, err := e.plan.Check(e.Now())
		if err != nil {
			return err
		}
		for _, w := range warnings {
			e.ui.Notice(w)
		}
		return nil
	}
	events, err := e.readFolder()
	if err != nil {
		return err
	}
	if len(events) > 0 {
		var begin struct{ Ceremony BeginFacts }
		json.Unmarshal(events[0].Facts, &begin)
		e.beganWith = begin.Ceremony.KeyceremonySHA256
	}
	e.markDone(events)
	if transcript.Sealed(e.out) {
		e.finished = true
		return e.finishSealed()
	}
	e.checkPlanSource()
	if err := e.checkRotationsAgain(events); err != nil {
		return err
	}
	// Logging in, the trust step and reopening the transcript happen on every run.
	delete(e.done, stepOpenToken)
	delete(e.done, stepBegin)
	delete(e.done, stepTrust)
	// Shares are never stored: if the key was not restored or the new set not sealed, the quorum
	// enters them again.
	if !e.done[stepRestoreKey] && !e.done[stepBackup] {
		delete(e.done, stepCollect)
	}
	// A share set counts only once sealed; handouts of an unsealed set are void and redone.
	for _, v := range e.plan.shareSets() {
		if e.done[v.keyStepID(stepBackup)] {
			continue
		}
		for i := range v.Backup.Custodians {
			delete(e.done, v.shareStepID(stepHandout, i+1))
			delete(e.done, v.shareStepID(stepVerifyShare, i+1))
		}
	}
	return nil
}

func (e *engine) runStep() error {
	st := &e.steps[e.cur]
	st.Status = Running
	e.ui.Script(e.steps, e.cur)
	if st.Key != "" {
		defer e.inScope(st.Key)()
	}
	id, arg, _ := strings.Cut(st.ID, ":")
	var err error
	switch id {
	case stepOpenToken:
		err = e.openToken()
	case stepBegin:
		err = e.begin()
	case stepCheckWrapKey:
		err = e.checkWrappingKey(e.target(arg))
	case stepGenerateKey:
		err = e.generateKey()
	case stepFindKey:
		err = e.findKey()
	case stepCollect:
		err = e.collectShares()
	case stepRestoreKey:
		err = e.restoreKey()
	case stepHandout:
		// The handouts, the verification round and the backup seal are one unit: a share set
		// exists only in memory until every custodian has proved their share.
		err = e.backupPhase()
	case stepWrap:
		err = e.wrapTarget(e.target(arg))
	case stepTrust:
		err = e.recordTrust()
	case stepCustody:
		err = e.custody()
	case stepSeal:
		if !e.ended { // after the end event nothing more is recorded
			err = e.signOff()
		}
		if err == nil {
			err = e.seal()
		}
	case stepCosign:
		err = e.cosignAtClose(arg)
	case stepAbort:
		err = e.abort()
	default:
		panic("ceremony: no handler for step " + st.ID)
	}
	if err != nil {
		return err
	}
	e.steps[e.cur].Status = Done
	e.ui.Script(e.steps, e.cur)
	return nil
}

// loadedKey is a key of a keys: plan found or made in this run, and what identifies it.
type loadedKey struct {
	key *hsm.Key
	id  hsm.Identity
}

// inScope makes the plan the view of the key labelled label, and that key the current one, for
// a step about it; the function it returns goes back to the whole plan.
func (e *engine) inScope(label string) (back func()) {
	e.plan = e.whole.view(label)
	e.key, e.id = e.loaded[label].key, e.loaded[label].id
	return func() {
		e.loaded[label] = loadedKey{e.key, e.id}
		e.plan, e.key, e.id = e.whole, nil, hsm.Identity{}
	}
}

// next marks the running step done and starts the one after it, for phases that span steps.
func (e *engine) next() {
	e.steps[e.cur].Status = Done
	e.cur++
	e.steps[e.cur].Status = Running
	e.ui.Script(e.steps, e.cur)
}

func (e *engine) target(name string) wrap.Target {
	for _, t := range e.plan.Targets {
		if t.Name == name {
			return t
		}
	}
	panic("ceremony: script names unknown target " + name)
}

func (e *engine) actor() Actor { return e.steps[e.cur].Actor }

// record appends a step event and tells the UI.
func (e *engine) record(step string, facts any, files ...string) error {
	ev, err := e.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindStep, Actor: transcript.Actor(e.actor()), Facts: facts, Files: files})
	if err != nil {
		return fmt.Errorf("cannot write the transcript: %w\nhint: the step's effect is done but not recorded; free disk space and resume", err)
	}
	e.recorded[step] = ev
	if progressed(step) {
		clear(e.seen)
	}
	e.ui.Record(summarize(step, facts))
	return nil
}

// exception records a deviation: a retried step, a host-assisted wrap, a resumed run.
func (e *engine) exception(step, what string) { e.exceptionBy(step, e.actor(), what) }

// exceptionBy records a deviation by a named person, such as a failed type-back.
func (e *engine) exceptionBy(step string, who Actor, what string) {
	if e.tr == nil {
		return
	}
	if _, err := e.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindException, Actor: transcript.Actor(who), Facts: ExceptionFacts{Exception: what}}); err != nil {
		e.ui.Notice("could not record an exception in the transcript: " + err.Error())
		return
	}
	e.ui.Record("exception: " + what)
}

func (e *engine) openToken() error {
	if err := e.readEvidence(); err != nil {
		return err
	}
	mod, err := hsm.Open(e.plan.Path(e.plan.Token.Module))
	if err != nil {
		return err
	}
	e.mod = mod
	sess, err := mod.OpenSession(e.plan.Token.Token)
	if err != nil {
		return err
	}
	e.sess = sess
	// The preflight needs no login: it refuses what the token cannot do before anyone types a PIN.
	if err := e.preflight(); err != nil {
		return err
	}
	// The security officer's step comes before the user logs in, while nothing of the
	// ceremony exists yet: logging out would end the user's handles.
	if err := e.trustStep(); err != nil {
		return err
	}
	if err := e.login(hsm.User, e.actor(), "user-pin"); err != nil {
		return err
	}
	// An existing or missing label is refused before anything is made.
	for _, v := range e.plan.Views() {
		if err := e.checkLabel(v); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel refuses a key of the plan whose label the token already has, before the key is
// made or restored, or, for a rewrap of a key kept in the token, does not have.
func (e *engine) checkLabel(v *Plan) error {
	exists, err := e.sess.LabelExists(v.Key.Label)
	if err != nil {
		return err
	}
	switch {
	case v.Kind == KindRewrap && !v.restores() && !exists:
		return fmt.Errorf("no key labelled %q in token %q\nhint: a rewrap ceremony wraps a key already in the token; check key.label", v.Key.Label, e.sess.Token().Label)
	case (v.generates() && !e.done[v.keyStepID(stepGenerateKey)] || v.restores() && !e.done[stepRestoreKey]) && exists && !e.Resume:
		return errs.Unchanged(fmt.Sprintf("token %q already has a key labelled %q", e.sess.Token().Label, v.Key.Label), "choose another key.label, or remove the old key after checking it is not in use")
	}
	return nil
}

func (e *engine) signingLabel() string { return e.plan.Ceremony + "/transcript" }

func (e *engine) begin() error {
	t := e.sess.Token()
	facts := BeginFacts{
		Ceremony:            e.plan.Ceremony,
		Kind:                e.plan.Kind,
		KeyceremonyVersion:  version.Version,
		KeyceremonyRevision: cmp.Or(version.Revision, "not recorded"),
		KeyceremonyBuild:    version.Platform,
		KeyceremonySHA256:   e.evidence.binary,
		Machine:             e.evidence.machine,
		Token:               TokenFacts{Label: t.Label, Manufacturer: t.Manufacturer, Model: t.Model, Serial: t.Serial, Firmware: t.Firmware, ModuleSHA256: e.evidence.module},
		Capabilities:        e.sess.Capabilities().String(),
		Participants:        e.plan.Participants,
		Interaction:         e.ui.Mode(),
	}
	signer, err := e.signingKey()
	if err != nil {
		return err
	}
	if e.Resume {
		if err := e.reportUnnamed(); err != nil {
			return err
		}
	}
	if e.started {
		return e.reopen(signer)
	}
	if !e.Resume {
		if err := e.createOutput(); err != nil {
			return err
		}
	} else if err := e.restart(); err != nil {
		return err
	}
	if signer == nil {
		if signer, err = e.sess.GenerateSigningKey(e.signingLabel()); err != nil {
			return err
		}
	} else {
		facts.SigningKeyReused = "made before an interruption that came before the transcript started"
	}
	files := []string{PlanCopyName}
	if _, err := os.Stat(filepath.Join(e.out, PlanSourceName)); err == nil {
		files = append(files, PlanSourceName)
	}
	begin := transcript.Begin{Step: stepBegin, Actor: transcript.Actor(e.actor()), PlanSHA256: e.plan.SHA256(), Facts: facts, Files: files}
	if e.tr, err = transcript.Create(e.out, signer, begin); err != nil {
		return err
	}
	e.ui.Record("begin: transcript started, signed by " + e.tr.Fingerprint())
	if err := e.removeLeftovers(); err != nil {
		return err
	}
	e.recordNotes()
	return e.showSigningKey(signer)
}

// signingKey finds the ceremony signing key a resumed ceremony made before; nil when there is
// none yet.
func (e *engine) signingKey() (*hsm.Signer, error) {
	exists, err := e.sess.LabelExists(e.signingLabel())
	if err != nil || !exists {
		return nil, err
	}
	if !e.Resume {
		return nil, errs.Unchanged(fmt.Sprintf("token %q already has a ceremony signing key %q", e.sess.Token().Label, e.signingLabel()), "each ceremony needs its own id; change 'ceremony' in the plan")
	}
	signer, err := e.sess.FindSigningKey(e.signingLabel())
	if err != nil && !e.started {
		return nil, e.dropHalfSigningKey(err)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot open the ceremony signing key %q to resume: %w", e.signingLabel(), err)
	}
	return signer, nil
}

// dropHalfSigningKey destroys what an interruption inside the signing key's generation left in
// the token (half a pair, an object with no class): no transcript exists, so it signed nothing.
// begin then makes a new key and records the replacement.
func (e *engine) dropHalfSigningKey(why error) error {
	n, err := e.sess.DestroyLabelled(e.signingLabel())
	if err != nil {
		return err
	}
	e.note(stepBegin, fmt.Sprintf("the ceremony signing key was cut short by the interruption (%s); its %d objects labelled %q were destroyed before the transcript started, and a new key is made", firstLine(why.Error()), n, e.signingLabel()))
	return nil
}

// reopen continues the transcript of a resumed ceremony, after removing what the interruption
// left half-written.
func (e *engine) reopen(signer *hsm.Signer) error {
	if signer == nil {
		return fmt.Errorf("the ceremony signing key %q is not in token %q; the transcript in %s cannot be continued\nhint: resume on the token the ceremony started on", e.signingLabel(), e.sess.Token().Label, e.out)
	}
	var err error
	if e.tr, err = transcript.Open(e.out, signer); err != nil {
		return err
	}
	if err := e.removeLeftovers(); err != nil {
		return err
	}
	e.recordNotes()
	if e.ended {
		return nil
	}
	if !e.Abort { // an abort records its own event, with the reason
		e.exceptionOnce(stepBegin, "ceremony resumed after an interruption; steps already in the transcript are not repeated")
	}
	// The begin event names the binary that ran; one that carries on another's ceremony says so.
	if e.beganWith != "" && e.beganWith != e.evidence.binary {
		e.exceptionOnce(stepBegin, fmt.Sprintf("this run's keyceremony binary has SHA-256 %s, not %s, which began the ceremony", e.evidence.binary, e.beganWith))
	}
	return e.showSigningKey(signer)
}

// showSigningKey has a witness write down the ceremony signing key's fingerprint and type it back
// from the paper; the record says who did, or that nobody did.
func (e *engine) showSigningKey(signer *hsm.Signer) error {
	fp := e.tr.Fingerprint()
	witness := e.plan.first(RoleWitness)
	c, err := e.confirm(stepBegin, ConfirmRequest{
		Actor:  witness,
		Prompt: "Write the ceremony signing key fingerprint on the paper log, then type back its read-back form from the paper",
		Detail: "Ceremony signing key (in the HSM, label " + e.signingLabel() + "):\n" + groupHex(fp) + "\nRead-back form: " + readback.Format(fp),
	}, fp)
	if err != nil {
		return err
	}
	return e.record(stepSigningKeyChecked, SigningKeyCheckedFacts{Fingerprint: fp, Confirmed: c})
}

// seal writes the end event and the checkpoint over the whole chain.
func (e *engine) seal() error {
	if err := e.tr.Seal("keyceremony/"+e.plan.Ceremony, transcript.Actor(e.actor())); err != nil {
		return err
	}
	e.ui.Record("sealed: checkpoint written")
	if cp, err := os.ReadFile(filepath.Join(e.out, transcript.CheckpointFile)); err == nil {
		e.ui.Success("the transcript is sealed. Checkpoint SHA-256, for the paper log: " + sha256Hex(cp))
	}
	return e.destroySigningKey()
}

// abortStep is the one step an abort runs after logging in and reopening the transcript. The
// administrator, who ends the ceremony, confirms it and says why.
func (p *Plan) abortStep() Step {
	return Step{ID: stepAbort, Title: "End the interrupted ceremony without finishing it, and seal its transcript", Actor: p.first(RoleAdministrator),
		Instructions: "The administrator confirms and says why, for the record. Unsealed share sets are voided; the transcript records what was done and what was not, and is sealed."}
}

// abort records the end of an interrupted ceremony: why, what it did, what it did not, and that
// any unsealed share set is void; then it seals the transcript so the record is complete.
func (e *engine) abort() error {
	undone := e.notDone()
	reason, c, err := e.abortReason(undone)
	if err != nil {
		return err
	}
	if e.plan.Backup != nil {
		if err := e.voidUnsealedSets(); err != nil {
			return err
		}
	}
	if err := e.abortCustody(); err != nil {
		return err
	}
	removed, err := e.removeUnrecorded()
	if err != nil {
		return err
	}
	var done []string
	for _, st := range e.whole.Script() {
		if e.done[st.ID] && st.ID != stepOpenToken && st.ID != stepBegin {
			done = append(done, st.ID)
		}
	}
	what := fmt.Sprintf("the ceremony ended without finishing, aborted by %s: %s; steps not done: %s", c.By, reason, strings.Join(undone, ", "))
	if made := e.keysMade(); len(made) > 0 {
		what += fmt.Sprintf("; %s stays in the token: destroy it with the vendor's tool if it must not be used", quoteKeys(made))
	}
	facts := ExceptionFacts{Exception: what, Reason: reason, Confirmed: &c, Done: done, NotDone: undone}
	if len(removed) > 0 {
		facts.Exception = what + "; removed the files written but not recorded before the interruption: " + strings.Join(removed, ", ")
		facts.Removed = removed
	}
	if _, err := e.tr.Append(transcript.Entry{Step: stepAbort, Kind: transcript.KindException, Actor: transcript.Actor(e.actor()), Facts: facts}); err != nil {
		return err
	}
	e.ui.Record("aborted: " + strings.Join(undone, ", ") + " not done")
	return e.seal()
}

// notDone lists the steps of the plan's script that the transcript does not hold, leaving out
// those every run does again (logging in, the transcript, the trust step) and the seal.
func (e *engine) notDone() []string {
	var undone []string
	for _, st := range e.whole.Script() {
		if !e.done[st.ID] && st.ID != stepOpenToken && st.ID != stepBegin && st.ID != stepTrust && st.ID != stepSeal {
			undone = append(undone, st.ID)
		}
	}
	return undone
}

// abortReason has the administrator confirm the abort and say why, or takes the reason given
// on the command line (--reason), which a headless abort must have.
func (e *engine) abortReason(undone []string) (string, Confirmation, error) {
	c, err := e.confirm(stepAbort, ConfirmRequest{
		Actor:  e.actor(),
		Prompt: "End this ceremony without finishing it?",
		Detail: "Steps not done: " + strings.Join(undone, ", ") + ". They will never be done in this ceremony: its transcript is sealed as ended without finishing, and unsealed share sets are voided.",
	}, "")
	if err != nil || e.AbortReason != "" {
		return e.AbortReason, c, err
	}
	for {
		typed, err := e.ui.Confirm(ConfirmRequest{Actor: e.actor(), Reason: true,
			Prompt: "Why does the ceremony end without finishing? In a few words, for the record"})
		if err != nil {
			return "", c, err
		}
		if reason := strings.Join(strings.Fields(typed), " "); reason != "" {
			return reason, c, nil
		}
	}
}

// keysMade are the labels of the plan's keys the transcript records as made or restored.
func (e *engine) keysMade() []string {
	var made []string
	for _, v := range e.plan.Views() {
		if e.done[v.keyStepID(stepGenerateKey)] || e.done[stepRestoreKey] {
			made = append(made, v.Key.Label)
		}
	}
	return made
}

func (e *engine) interrupted(err error) error {
	if !errors.Is(err, ErrAborted) && !errors.Is(err, ErrEndOfInput) {
		return err
	}
	in := &Interrupted{Cause: err, Step: fmt.Sprintf("step %d of %d (%s)", e.cur+1, len(e.steps), e.steps[e.cur].Title), Plan: e.PlanPath}
	if e.started || e.tr != nil {
		in.Dir = e.out
	}
	return in
}
