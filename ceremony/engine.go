package ceremony

import (
	"cmp"
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

	oldManifest *backup.Manifest // restore, reshare
	oldBlob     []byte
	collector   *backup.Collector
}

// Run carries out the plan, or resumes it. Every effect is journalled in the transcript before it
// is announced; an interrupted run is resumed from the transcript and never repeats an effect blindly.
func Run(o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Resume = o.Resume || o.Abort
	e := &engine{Options: o, plan: o.Plan, ui: o.UI, out: o.Plan.OutputDir(), done: map[string]bool{}}
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
	_, err := e.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindStep, Actor: transcript.Actor(e.actor()), Facts: facts, Files: files})
	if err != nil {
		return fmt.Errorf("cannot write the transcript: %w\nhint: the step's effect is done but not recorded; free disk space and resume", err)
	}
	e.ui.Record(summarize(step, facts))
	return nil
}

// exception records a deviation: a retried step, a host-assisted wrap, a resumed run.
func (e *engine) exception(step, what string) {
	if e.tr == nil {
		return
	}
	if _, err := e.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindException, Actor: transcript.Actor(e.actor()), Facts: map[string]any{"exception": what}}); err != nil {
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

func (e *engine) showSigningKey(signer *hsm.Signer) error {
	fp := e.tr.Fingerprint()
	return e.ui.Confirm(ConfirmRequest{
		Actor:  e.plan.first(RoleWitness),
		Prompt: "Write the ceremony signing key fingerprint on the paper log, then type back its first 8 characters",
		Detail: "Ceremony signing key (in the HSM, label " + e.signingLabel() + "):\n" + groupHex(fp),
		Expect: fingerprintPrefix(fp),
	})
}

func (e *engine) checkWrappingKey(t wrap.Target) error {
	params, err := wrap.Load(t, e.plan.dir)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	warnings, err := params.Validate(e.plan.spec, e.Now())
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	for _, w := range warnings {
		e.ui.Notice("target " + t.Name + ": " + w)
	}
	// The fingerprint is not shown before it is typed back: the check is that the key in the
	// file here is the one on the import request printed on the connected side.
	fp := params.Fingerprint()
	if err := e.ui.Confirm(ConfirmRequest{
		Actor:  e.actor(),
		Prompt: fmt.Sprintf("Read aloud the wrapping key fingerprint of %s from the printed import request; type back its first 8 characters", t.Name),
		Detail: fmt.Sprintf("%s wrapping key (%s) from %s", cloudName(t.Profile), params.Algorithm, cmp.Or(t.Params, t.PublicKey)),
		Expect: fingerprintPrefix(fp),
	}); err != nil {
		return err
	}
	e.ui.Notice(fmt.Sprintf("the %s wrapping key matches the import request: %s", t.Name, fp))
	facts := map[string]any{"target": t.Name, "profile": t.Profile, "algorithm": params.Algorithm, "wrapping_key_fingerprint": fp}
	if !params.ValidTo.IsZero() {
		facts["parameters_valid_to"] = params.ValidTo
	}
	return e.record(stepCheckWrapKey+":"+t.Name, facts)
}

// keyFacts describes the target key for the transcript without revealing it.
func (e *engine) keyFacts() (map[string]any, error) {
	id, err := e.sess.Identify(e.key)
	if err != nil && e.oldManifest != nil && e.key.Spec.Type == hsm.EC {
		// A restored EC private key has no public half in the token; backup.Restore proved it
		// by a signature that verified under the backed-up public key.
		id, err = hsm.Identity{Fingerprint: e.oldManifest.Key.Fingerprint, PublicKeyDER: e.oldManifest.Key.PublicKey}, nil
	}
	if err != nil {
		return nil, err
	}
	attrs, err := e.sess.Attributes(e.key)
	if err != nil {
		return nil, err
	}
	e.id = id
	facts := map[string]any{"label": e.key.Label, "spec": e.key.Spec.String(), "id": fmt.Sprintf("%x", e.key.ID), "attributes": attrs}
	if id.KCV != "" {
		facts["kcv"] = id.KCV
	}
	if id.Fingerprint != "" {
		facts["fingerprint"] = id.Fingerprint
	}
	return facts, nil
}

func (e *engine) generateKey() error {
	label := e.plan.Key.Label
	exists, err := e.sess.LabelExists(label)
	if err != nil {
		return err
	}
	adopted := false
	if exists {
		// Only a resume gets here: the key was made, the run stopped before recording it.
		// It is taken over, never made twice.
		if e.key, err = e.sess.FindKey(label); err != nil {
			return err
		}
		if !e.matchesPlan(e.key) {
			return fmt.Errorf("token key %q is %s, the plan says %s; nothing was changed\nhint: this key was not made by this ceremony; investigate before going on", label, e.key.Spec, e.plan.spec)
		}
		attrs, err := e.sess.Attributes(e.key)
		if err != nil {
			return err
		}
		if !attrs.Local || !attrs.AlwaysSensitive {
			return fmt.Errorf("token key %q was not generated in this token (CKA_LOCAL or CKA_ALWAYS_SENSITIVE is false); nothing was changed\nhint: investigate before going on", label)
		}
		adopted = true
		e.exception(stepGenerateKey, "key "+label+" was generated before the interruption and not recorded; it is taken over, not made again")
	} else {
		done := e.ui.Busy("Generating " + e.plan.spec.String() + " in the HSM")
		e.key, err = e.sess.GenerateKey(label, e.plan.spec)
		done()
		if err != nil {
			return err
		}
	}
	facts, err := e.keyFacts()
	if err != nil {
		return err
	}
	if adopted {
		facts["adopted_after_interruption"] = true
	}
	return e.record(stepGenerateKey, facts)
}

func (e *engine) findKey() error {
	var err error
	if e.key, err = e.sess.FindKey(e.plan.Key.Label); err != nil {
		return err
	}
	if !e.matchesPlan(e.key) {
		return fmt.Errorf("token key %q is %s, the plan says %s\nhint: correct key.type in the plan", e.key.Label, e.key.Spec, e.plan.spec)
	}
	facts, err := e.keyFacts()
	if err != nil {
		return err
	}
	return e.record(stepFindKey, facts)
}

// matchesPlan reports whether a token key is of the planned type. A secret key restored by
// unwrapping may not tell its size (SoftHSM2 leaves CKA_VALUE_LEN at 0); it then takes the
// planned size, which its check value against the backup manifest already vouched for.
func (e *engine) matchesPlan(k *hsm.Key) bool {
	if k.IsSecret() && k.Spec.Type == e.plan.spec.Type && k.Spec.Bits == 0 {
		k.Spec = e.plan.spec
	}
	return k.Spec == e.plan.spec
}

// loadKey finds the ceremony's key again on resume, for steps after the one that made it.
func (e *engine) loadKey() error {
	if e.key != nil {
		return nil
	}
	var err error
	if e.key, err = e.sess.FindKey(e.plan.Key.Label); err != nil {
		return err
	}
	e.matchesPlan(e.key)
	e.id, err = e.sess.Identify(e.key)
	return err
}

func (e *engine) loadOldBackup() error {
	if e.oldManifest != nil {
		return nil
	}
	raw, err := os.ReadFile(e.plan.Path(e.plan.Restore.Manifest))
	if err != nil {
		return err
	}
	if e.oldManifest, err = backup.ParseManifest(raw); err != nil {
		return err
	}
	e.oldBlob, err = os.ReadFile(e.plan.Path(e.plan.Restore.Blob))
	return err
}

func (e *engine) collectShares() error {
	if err := e.loadOldBackup(); err != nil {
		return err
	}
	m := e.oldManifest
	e.collector = backup.NewCollector(m)
	var lastErr string
	for e.collector.Need() > 0 {
		text, err := e.ui.EnterShare(ShareRequest{
			Progress:  fmt.Sprintf("%d of %d shares accepted", len(e.collector.Accepted()), m.M),
			LastError: lastErr,
		})
		if err != nil {
			return err
		}
		sh, err := e.readShare(text, 0)
		if err == nil {
			_, err = e.collector.Add(sh)
			sh.Zero()
		}
		if err != nil {
			lastErr = firstLine(err.Error())
			e.exception(stepCollect, "share refused: "+lastErr)
			continue
		}
		lastErr = ""
	}
	return e.record(stepCollect, map[string]any{"set_id": m.SetID, "accepted": e.collector.Accepted(), "threshold": m.M})
}

func (e *engine) restoreKey() error {
	if e.collector == nil {
		panic("ceremony: restore without collected shares")
	}
	label := e.plan.Key.Label
	exists, err := e.sess.LabelExists(label)
	if err != nil {
		return err
	}
	if exists {
		// A resume after the key was restored but before it was recorded: check and take it over.
		if e.key, err = e.sess.FindKey(label); err != nil {
			return err
		}
		id, err := e.sess.Identify(e.key)
		if err != nil {
			return err
		}
		if id.KCV != e.oldManifest.Key.KCV || id.Fingerprint != e.oldManifest.Key.Fingerprint {
			return fmt.Errorf("token already has a key %q that is not the backed-up key; nothing was changed\nhint: choose another key.label", label)
		}
		e.exception(stepRestoreKey, "key "+label+" was restored before the interruption; it is taken over, not restored again")
	} else {
		done := e.ui.Busy("Restoring the key into the HSM")
		e.key, err = backup.Restore(e.sess, e.oldManifest, e.oldBlob, e.collector, label)
		done()
		if err != nil {
			return err
		}
	}
	facts, err := e.keyFacts()
	if err != nil {
		return err
	}
	facts["backup_set"] = e.oldManifest.SetID
	return e.record(stepRestoreKey, facts)
}

// backupPhase makes a share set, hands each share to its custodian, has each custodian prove
// their share, and only then seals the set. An unsealed set left by an interruption is voided.
func (e *engine) backupPhase() error {
	if err := e.voidUnsealedSets(); err != nil {
		return err
	}
	opts := backup.Options{Threshold: e.plan.Backup.Threshold, AllowLarge: e.plan.Backup.AllowLarge}
	for _, c := range e.plan.Backup.Custodians {
		opts.Custodians = append(opts.Custodians, c.Name)
	}
	var b *backup.Backup
	var err error
	done := e.ui.Busy("Making the backup and the share set")
	if e.plan.Kind == KindReshare {
		opts.Replaces = e.oldManifest.SetID
		b, err = backup.Reshare(e.sess, e.oldManifest, e.oldBlob, e.collector, opts)
	} else {
		if err = e.loadKey(); err == nil {
			b, err = backup.Create(e.sess, e.key, opts)
		}
	}
	done()
	if err != nil {
		return err
	}
	defer b.Zero()
	dir := "backup-" + b.Manifest.SetID
	if err := os.Mkdir(filepath.Join(e.out, dir), 0o700); err != nil {
		return err
	}
	if err := backup.WriteSet(filepath.Join(e.out, dir), b); err != nil {
		return err
	}
	files := []string{filepath.Join(dir, backup.ManifestFile), filepath.Join(dir, backup.BlobFile)}
	for i, c := range e.plan.Backup.Custodians {
		if i > 0 {
			e.next()
		}
		f, err := e.handout(dir, i, c, b.Shares[i])
		if err != nil {
			return err
		}
		facts := map[string]any{"custodian": c.Name, "index": i + 1, "delivery": c.Delivery, "set_id": b.Manifest.SetID}
		if f != "" {
			files = append(files, f)
			facts["file"] = f
		}
		if err := e.record(e.steps[e.cur].ID, facts); err != nil {
			return err
		}
	}
	for i, c := range e.plan.Backup.Custodians {
		e.next()
		if err := e.verifyShare(&b.Manifest, i, c); err != nil {
			return err
		}
		if err := e.record(e.steps[e.cur].ID, map[string]any{"custodian": c.Name, "index": i + 1, "set_id": b.Manifest.SetID}); err != nil {
			return err
		}
	}
	e.next()
	return e.record(stepBackup, map[string]any{
		"set_id": b.Manifest.SetID, "threshold": b.Manifest.M, "custodians": b.Manifest.Custodians,
		"backup_key_kcv": b.Manifest.BackupKeyKCV, "replaces": b.Manifest.Replaces,
	}, files...)
}

// voidUnsealedSets renames the folder of a share set an interruption left unsealed, so its shares
// can never be mistaken for the real set, and records that.
func (e *engine) voidUnsealedSets() error {
	entries, err := os.ReadDir(e.out)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		name := ent.Name()
		if !strings.HasPrefix(name, "backup-") || !ent.IsDir() {
			continue
		}
		if e.plan.Kind == KindReshare && e.plan.Path(e.plan.Restore.Manifest) == filepath.Join(e.out, name, backup.ManifestFile) {
			continue
		}
		void := "void-" + name
		if err := os.Rename(filepath.Join(e.out, name), filepath.Join(e.out, void)); err != nil {
			return err
		}
		e.exception(stepBackup, fmt.Sprintf("share set %s was not sealed before the interruption; it is void (folder %s) and a new set is made: custodians must destroy any share of it", strings.TrimPrefix(name, "backup-"), void))
	}
	return nil
}

func (e *engine) handout(dir string, i int, c CustodianPlan, sh backup.Share) (file string, err error) {
	who := Actor{Role: RoleCustodian, Name: c.Name}
	n := len(e.plan.Backup.Custodians)
	if c.Delivery == DeliveryTyped {
		return "", e.ui.ShowShare(ShareHandout{Custodian: who, Index: i + 1, N: n, Share: sh})
	}
	var r age.Recipient
	if c.Delivery == DeliveryAgePassphrase {
		pass, err := e.ui.Secret(SecretRequest{Actor: who, Prompt: fmt.Sprintf("%s: choose a passphrase for your share file", c.Name), Purpose: fmt.Sprintf("passphrase:%d", i+1)})
		if err != nil {
			return "", err
		}
		r, err = backup.PassphraseRecipient(string(pass))
		clear(pass)
		if err != nil {
			return "", err
		}
	} else {
		if r, err = backup.ParseRecipient(c.Recipient); err != nil {
			return "", fmt.Errorf("custodian %s: %w", c.Name, err)
		}
	}
	data, err := sh.EncryptAge(r)
	if err != nil {
		return "", err
	}
	file = filepath.Join(dir, fmt.Sprintf("share-%d-%s.age", i+1, fileSafe(c.Name)))
	if err := writeOnce(filepath.Join(e.out, file), data); err != nil {
		return "", err
	}
	return file, e.ui.ShowShare(ShareHandout{Custodian: who, Index: i + 1, N: n, File: filepath.Join(e.out, file)})
}

func (e *engine) verifyShare(m *backup.Manifest, i int, c CustodianPlan) error {
	who := Actor{Role: RoleCustodian, Name: c.Name}
	var lastErr string
	for attempt := 1; ; attempt++ {
		text, err := e.ui.EnterShare(ShareRequest{Custodian: who, Progress: fmt.Sprintf("share %d of %d", i+1, len(m.Custodians)), LastError: lastErr})
		if err != nil {
			return err
		}
		sh, err := e.readShare(text, i+1)
		if err == nil {
			if sh.Index != i+1 {
				err = fmt.Errorf("this is share %d, not %s's share %d", sh.Index, c.Name, i+1)
			} else {
				err = backup.Verify(m, sh)
			}
			sh.Zero()
		}
		if err == nil {
			return nil
		}
		lastErr = firstLine(err.Error())
		e.exception(e.steps[e.cur].ID, fmt.Sprintf("%s's share was not read back correctly (attempt %d): %s", c.Name, attempt, lastErr))
		if attempt == 3 {
			return fmt.Errorf("%s's share could not be read back after 3 attempts: %s\nhint: the share set is not sealed; resume to make a new one", c.Name, lastErr)
		}
	}
}

// readShare turns what a custodian entered into a share: typed text, or "file:PATH" of an age file
// opened with a passphrase they type or with an identity given on the command line.
func (e *engine) readShare(text string, index int) (backup.Share, error) {
	path, isFile := strings.CutPrefix(strings.TrimSpace(text), "file:")
	if !isFile {
		return backup.ParseTyped(text)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return backup.Share{}, fmt.Errorf("cannot read share file %s: %v", path, err)
	}
	defer clear(data)
	if !backup.IsAgeFile(data) {
		return backup.ParseTyped(string(data))
	}
	if backup.IsPassphraseFile(data) {
		pass, err := e.ui.Secret(SecretRequest{Actor: e.actor(), Prompt: "Passphrase of share file " + filepath.Base(path), Purpose: fmt.Sprintf("passphrase:%d", index)})
		if err != nil {
			return backup.Share{}, err
		}
		defer clear(pass)
		id, err := backup.PassphraseIdentity(string(pass))
		if err != nil {
			return backup.Share{}, err
		}
		return backup.DecryptAge(data, id)
	}
	if len(e.Identities) == 0 {
		return backup.Share{}, fmt.Errorf("share file %s is encrypted to a public key and no identity was given\nhint: pass --identity FILE, or have the custodian decrypt it with age and type the share", path)
	}
	return backup.DecryptAge(data, e.Identities...)
}

func (e *engine) wrapTarget(t wrap.Target) error {
	if err := e.loadKey(); err != nil {
		return err
	}
	params, err := wrap.Load(t, e.plan.dir)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	if _, err := params.Validate(e.key.Spec, e.Now()); err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	rel := filepath.Join("targets", t.Name)
	dir := filepath.Join(e.out, rel)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	facts := map[string]any{"target": t.Name, "profile": t.Profile, "algorithm": params.Algorithm}
	var m *wrap.Manifest
	if _, err := os.Stat(dir); err == nil {
		// A resume after the package was written but before it was recorded: it is complete
		// (written then renamed into place); check it holds this key and take it over.
		if m, err = wrap.ReadManifest(dir); err != nil {
			return err
		}
		if m.Key.KCV != e.id.KCV || m.Key.Fingerprint != e.id.Fingerprint {
			return fmt.Errorf("%s holds a package for another key; nothing was changed\nhint: investigate before going on", dir)
		}
		facts["adopted_after_interruption"] = true
		e.exception(stepWrap+":"+t.Name, "package "+rel+" was written before the interruption; it is taken over, not made again")
	} else {
		done := e.ui.Busy("Wrapping the key for " + t.Name)
		res, err := wrap.Wrap(e.sess, params, e.key, t.AllowHostAssisted)
		done()
		if err != nil {
			return fmt.Errorf("target %s: %w", t.Name, err)
		}
		if res.Strategy == wrap.StrategyHostAssisted {
			e.exception(stepWrap+":"+t.Name, "host-assisted wrap (allowed by the plan): "+res.Reason)
		}
		info, err := wrap.Describe(e.sess, e.key)
		if err != nil {
			return err
		}
		if m, err = wrap.WritePackage(dir, params, info, res, e.Now()); err != nil {
			return fmt.Errorf("target %s: %w", t.Name, err)
		}
	}
	facts["strategy"] = m.Strategy
	facts["strategy_reason"] = m.StrategyReason
	facts["wrapping_key_fingerprint"] = m.WrappingKeyFingerprint
	files := []string{filepath.Join(rel, wrap.ManifestName)}
	for name := range m.Files {
		files = append(files, filepath.Join(rel, name))
	}
	return e.record(stepWrap+":"+t.Name, facts, files...)
}

// seal writes the end event and the checkpoint over the whole chain.
func (e *engine) seal() error {
	if err := e.tr.Seal("keyceremony/" + e.plan.Ceremony); err != nil {
		return err
	}
	e.ui.Record("sealed: checkpoint written")
	return nil
}

// tokenFacts describes the token for the transcript.
func tokenFacts(t hsm.TokenInfo) map[string]string {
	return map[string]string{"label": t.Label, "manufacturer": t.Manufacturer, "model": t.Model, "serial": t.Serial, "firmware": t.Firmware}
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
