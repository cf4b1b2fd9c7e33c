package ceremony

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/version"
	"github.com/keyceremony/keyceremony/wrap"
)

// ErrAborted is returned by an Interaction when the operator stops the ceremony.
var ErrAborted = errors.New("the ceremony was stopped by the operator; the transcript records every step done so far\nhint: resume it with 'keyceremony run --resume DIR'")

// Files the ceremony keeps in its output folder besides the transcript: a copy of the plan, which
// resume compares, and the plan's absolute path, so `run --resume DIR` finds it again (relative
// paths in a plan start from its folder).
const (
	PlanCopyName   = "plan.yaml"
	PlanSourceName = "plan.source"
)

// PlanSource returns the path of the plan that started the ceremony in dir.
func PlanSource(dir string) (string, error) {
	src, err := os.ReadFile(filepath.Join(dir, PlanSourceName))
	if err != nil {
		return "", fmt.Errorf("%s holds no ceremony to resume\nhint: give the output folder of an interrupted ceremony", dir)
	}
	return strings.TrimSpace(string(src)), nil
}

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
	// Identities open age-recipient share files in the verification round when no person is at
	// the screen (headless runs and rehearsals).
	Identities []age.Identity
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// engine runs one plan. It holds every ceremony decision; the Interaction only shows and asks.
type engine struct {
	Options
	plan  *Plan
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

	oldManifest    *backup.Manifest // restore, reshare
	oldManifestRaw []byte           // its bytes, pinned in the record
	oldBlob        []byte
	collector      *backup.Collector

	// recorded holds the step events written in this run, by step id.
	recorded map[string]transcript.Event
}

// Run carries out the plan, or resumes it. Every effect is journalled in the transcript before it
// is announced; an interrupted run is resumed from the transcript and never repeats an effect blindly.
func Run(o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Resume = o.Resume || o.Abort
	e := &engine{Options: o, plan: o.Plan, ui: o.UI, out: o.Plan.OutputDir(), done: map[string]bool{}, recorded: map[string]transcript.Event{}}
	defer e.close()
	if err := e.prepare(); err != nil {
		return err
	}
	e.steps = e.plan.Script()
	if e.Abort {
		e.steps = append(e.steps[:2:2], abortStep(e.steps))
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
			if errors.Is(err, ErrAborted) {
				what = "the operator stopped the ceremony at this step"
			}
			e.exception(e.steps[e.cur].ID, what)
			return err
		}
	}
	return nil
}

func (e *engine) close() {
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
	kept, err := os.ReadFile(filepath.Join(e.out, PlanCopyName))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s holds no ceremony to resume\nhint: start it with 'keyceremony run PLAN' instead", e.out)
	}
	if err != nil {
		return err
	}
	if string(kept) != string(e.plan.raw) {
		return fmt.Errorf("the plan differs from the one this ceremony started with (%s)\nhint: resume with the same plan file, unchanged", filepath.Join(e.out, PlanCopyName))
	}
	events, err := transcript.Read(e.out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot resume: %w", err)
	}
	for _, ev := range events {
		switch ev.Kind {
		case transcript.KindStep:
			e.done[ev.Step] = true
		case transcript.KindEnd:
			e.done[stepSeal] = true
		}
	}
	if e.done[stepSeal] {
		return fmt.Errorf("the ceremony in %s is finished and sealed; there is nothing to resume\nhint: check it with 'keyceremony verify %s'", e.out, e.out)
	}
	// Logging in and reopening the transcript happen on every run.
	delete(e.done, stepOpenToken)
	delete(e.done, stepBegin)
	// Shares are never stored: if the key was not restored or the new set not sealed, the quorum
	// enters them again.
	if !e.done[stepRestoreKey] && !e.done[stepBackup] {
		delete(e.done, stepCollect)
	}
	// A share set counts only once sealed; handouts of an unsealed set are void and redone.
	if !e.done[stepBackup] {
		for id := range e.done {
			if strings.HasPrefix(id, stepHandout+":") || strings.HasPrefix(id, stepVerifyShare+":") {
				delete(e.done, id)
			}
		}
	}
	return nil
}

func (e *engine) runStep() error {
	st := &e.steps[e.cur]
	st.Status = Running
	e.ui.Script(e.steps, e.cur)
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
	case stepSeal:
		err = e.seal()
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
func (e *engine) record(step string, facts map[string]any, files ...string) error {
	ev, err := e.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindStep, Actor: transcript.Actor(e.actor()), Facts: facts, Files: files})
	if err != nil {
		return fmt.Errorf("cannot write the transcript: %w\nhint: the step's effect is done but not recorded; free disk space and resume", err)
	}
	e.recorded[step] = ev
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
	if _, err := e.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindException, Actor: transcript.Actor(who), Facts: map[string]any{"exception": what}}); err != nil {
		e.ui.Notice("could not record an exception in the transcript: " + err.Error())
		return
	}
	e.ui.Record("exception: " + what)
}

func summarize(step string, facts map[string]any) string {
	var parts []string
	for _, k := range []string{"kcv", "fingerprint", "custodian", "strategy", "target"} {
		if v, ok := facts[k]; ok && v != "" {
			parts = append(parts, fmt.Sprintf("%s %v", k, v))
		}
	}
	if len(parts) == 0 {
		return step
	}
	return step + ": " + strings.Join(parts, ", ")
}

func (e *engine) openToken() error {
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
	const attempts = 3
	for i := 1; ; i++ {
		pin, err := e.ui.Secret(SecretRequest{Actor: e.actor(), Prompt: fmt.Sprintf("User PIN of token %q", sess.Token().Label), Purpose: "user-pin"})
		if err != nil {
			return err
		}
		err = sess.Login(hsm.User, pin)
		clear(pin)
		if err == nil {
			break
		}
		if !errors.Is(err, hsm.ErrPINIncorrect) || i == attempts {
			return err
		}
		e.ui.Notice(fmt.Sprintf("the PIN is wrong (attempt %d of %d); nothing changed", i, attempts))
	}
	if err := e.custodyPolicy(); err != nil {
		return err
	}
	// An existing or missing label is refused before anything is made.
	exists, err := sess.LabelExists(e.plan.Key.Label)
	if err != nil {
		return err
	}
	switch {
	case e.plan.Kind == KindRewrap && !exists:
		return fmt.Errorf("no key labelled %q in token %q\nhint: a rewrap ceremony wraps a key already in the token; check key.label", e.plan.Key.Label, sess.Token().Label)
	case (e.plan.Kind == KindGenerate && !e.done[stepGenerateKey] || e.plan.Kind == KindRestore && !e.done[stepRestoreKey]) && exists && !e.Resume:
		return fmt.Errorf("token %q already has a key labelled %q; nothing was changed\nhint: choose another key.label, or remove the old key after checking it is not in use", sess.Token().Label, e.plan.Key.Label)
	}
	return nil
}

func (e *engine) signingLabel() string { return e.plan.Ceremony + "/transcript" }

func (e *engine) begin() error {
	facts := map[string]any{
		"ceremony":            e.plan.Ceremony,
		"kind":                e.plan.Kind,
		"keyceremony_version": version.Version,
		"token":               tokenFacts(e.sess.Token()),
		"capabilities":        e.sess.Capabilities().String(),
		"participants":        e.plan.Participants,
		"interaction":         e.ui.Mode(),
	}
	var signer *hsm.Signer
	var err error
	exists, err := e.sess.LabelExists(e.signingLabel())
	if err != nil {
		return err
	}
	if exists && !e.Resume {
		return fmt.Errorf("token %q already has a ceremony signing key %q; nothing was changed\nhint: each ceremony needs its own id; change 'ceremony' in the plan", e.sess.Token().Label, e.signingLabel())
	}
	if exists {
		if signer, err = e.sess.FindSigningKey(e.signingLabel()); err != nil {
			return fmt.Errorf("cannot open the ceremony signing key %q to resume: %w", e.signingLabel(), err)
		}
		if _, err := os.Stat(filepath.Join(e.out, transcript.TranscriptFile)); err == nil {
			if e.tr, err = transcript.Open(e.out, signer); err != nil {
				return err
			}
			e.exception(stepBegin, "ceremony resumed after an interruption; steps already in the transcript are not repeated")
			return e.showSigningKey(signer)
		}
	}
	if !e.Resume {
		if err := e.createOutput(); err != nil {
			return err
		}
	}
	if signer == nil {
		if signer, err = e.sess.GenerateSigningKey(e.signingLabel()); err != nil {
			return err
		}
	} else {
		facts["signing_key_reused"] = "made before an interruption that came before the transcript started"
	}
	begin := transcript.Begin{Step: stepBegin, Actor: transcript.Actor(e.actor()), PlanSHA256: e.plan.SHA256(), Facts: facts, Files: []string{PlanCopyName}}
	if e.tr, err = transcript.Create(e.out, signer, begin); err != nil {
		return err
	}
	e.ui.Record("begin: transcript started, signed by " + e.tr.Fingerprint())
	return e.showSigningKey(signer)
}

// createOutput makes the output folder with the plan's copy and source, the first effect of a
// ceremony, once the token has been opened and every check has passed.
func (e *engine) createOutput() error {
	if err := os.Mkdir(e.out, 0o700); err != nil {
		return fmt.Errorf("cannot create the output folder: %v\nhint: check that its parent exists and is writable", err)
	}
	abs, err := filepath.Abs(e.PlanPath)
	if err != nil {
		return err
	}
	if err := writeOnce(filepath.Join(e.out, PlanSourceName), []byte(abs+"\n")); err != nil {
		return err
	}
	return writeOnce(filepath.Join(e.out, PlanCopyName), e.plan.raw)
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
	return e.record(stepSigningKeyChecked, map[string]any{"fingerprint": fp, "confirmed": c})
}

// seal writes the end event and the checkpoint over the whole chain.
func (e *engine) seal() error {
	if err := e.tr.Seal("keyceremony/" + e.plan.Ceremony); err != nil {
		return err
	}
	e.ui.Record("sealed: checkpoint written")
	return nil
}

// abortStep is the one step an abort runs after logging in and reopening the transcript; its
// instructions list what the interrupted ceremony left undone.
func abortStep(script []Step) Step {
	return Step{ID: stepAbort, Title: "Abort the interrupted ceremony and seal its transcript", Actor: script[0].Actor,
		Instructions: "Unsealed share sets are voided; the transcript records what was done and what was not, and is sealed."}
}

// abort records the end of an interrupted ceremony: what it did, what it did not, and that any
// unsealed share set is void; then it seals the transcript so the record is complete.
func (e *engine) abort() error {
	if !e.done[stepBackup] && e.plan.Backup != nil {
		if err := e.voidUnsealedSets(); err != nil {
			return err
		}
	}
	var done, undone []string
	for _, st := range e.plan.Script() {
		switch {
		case st.ID == stepOpenToken || st.ID == stepBegin || st.ID == stepSeal:
		case e.done[st.ID]:
			done = append(done, st.ID)
		default:
			undone = append(undone, st.ID)
		}
	}
	what := "ceremony aborted by the operator; steps not done: " + strings.Join(undone, ", ")
	if e.done[stepGenerateKey] || e.done[stepRestoreKey] {
		what += fmt.Sprintf("; key %q stays in the token: destroy it with the vendor's tool if it must not be used", e.plan.Key.Label)
	}
	if _, err := e.tr.Append(transcript.Entry{Step: stepAbort, Kind: transcript.KindException, Actor: transcript.Actor(e.actor()),
		Facts: map[string]any{"exception": what, "done": done, "not_done": undone}}); err != nil {
		return err
	}
	e.ui.Record("aborted: " + strings.Join(undone, ", ") + " not done")
	return e.seal()
}
