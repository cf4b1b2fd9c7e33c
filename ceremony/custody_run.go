//go:build cgo

package ceremony

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/wrap"
)

// trusted are the objects the security officer marked CKA_TRUSTED in this run.
type trusted struct {
	wraps      map[string]*wrap.Prepared // by target name
	backupKeys map[string]*backup.Key    // by the scope of their share set (Plan.shareSets)
	facts      TrustFacts                // for the trust step's event
}

// login logs in as u, asking who for the PIN; a wrong PIN may be typed again twice, except in a
// headless run, which never repeats a refused secret.
func (e *engine) login(u hsm.UserType, who Actor, purpose string) error {
	const attempts = 3
	prompt := fmt.Sprintf("User PIN of token %q", e.sess.Token().Label)
	if u == hsm.SecurityOfficer {
		prompt = fmt.Sprintf("Security officer PIN of token %q", e.sess.Token().Label)
	}
	for i := 1; ; i++ {
		pin, err := e.ui.Secret(SecretRequest{Actor: who, Prompt: prompt, Purpose: purpose})
		if err != nil {
			return err
		}
		err = e.sess.Login(u, pin)
		clear(pin)
		if err == nil {
			return nil
		}
		if !errors.Is(err, hsm.ErrPINIncorrect) || i == attempts {
			return err
		}
		e.ui.Notice(fmt.Sprintf("the PIN is wrong (attempt %d of %d); nothing changed", i, attempts))
	}
}

// custodyPreflight checks, before the security officer or the user logs in, that the token can
// keep the plan's custody promises (custodyCaps), and that it wraps the planned private key's
// PKCS#8 exactly for every RSA-AES target, or the target allows padding.
func (e *engine) custodyPreflight() error {
	waive, err := e.plan.custodyCaps(e.sess.Capabilities())
	if err != nil {
		return err
	}
	if err := e.sess.Waive(waive...); err != nil {
		return err
	}
	if e.plan.Kind == KindReshare {
		return nil
	}
	for _, t := range e.plan.Targets {
		if e.done[stepWrap+":"+t.Name] {
			continue
		}
		params, err := e.targetParams(t)
		if err != nil {
			return err
		}
		if err := wrap.CheckExactPKCS8(e.sess, params, e.plan.specFor(t)); err != nil {
			return err
		}
	}
	return nil
}

// paddedPKCS8Exception records that a target took the padded PKCS#8 of a token that pads, as
// its allow_padded_pkcs8 permits.
func (e *engine) paddedPKCS8Exception(t wrap.Target) error {
	if !t.AllowPaddedPKCS8 || e.key.IsSecret() {
		return nil
	}
	fit, err := e.sess.ProbePKCS8(e.key.Spec)
	if err != nil || fit.Exact() {
		return err
	}
	e.exception(stepWrap+":"+t.Name, fmt.Sprintf("allow_padded_pkcs8: token %q pads %s private keys before AES key wrap (%s); %s receives %d zero bytes after the PKCS#8 DER as part of the key",
		e.sess.Token().Label, e.key.Spec, fit, wrap.CloudName(t.Profile), fit.LengthField-fit.DERLength))
	return nil
}

// targetParams loads a target's parameters: the pinned copies once its check is recorded, the
// plan's files before. Objects marked trusted from the plan's files are used only if their
// fingerprint is the one the witness checked (wrap.Wrap compares).
func (e *engine) targetParams(t wrap.Target) (*wrap.Params, error) {
	if e.done[e.plan.checkStep(t)] {
		return e.checkedParams(t)
	}
	return wrap.Load(t, e.plan.dir)
}

// trustStep runs before the user logs in: the security officer logs in and marks CKA_TRUSTED the
// keys this run will wrap the target key under (each remaining target's cloud key and ephemeral
// key, the backup key of an unsealed backup), then logs out. PKCS#11 login state belongs to the
// application, so the two logins are one after the other; the objects are public session
// objects, which outlive the security officer's logout, are visible to this process only, and
// die with the session. The step is recorded once the transcript is open.
func (e *engine) trustStep() error {
	if err := e.custodyPreflight(); err != nil {
		return err
	}
	if !e.plan.trusting() || e.Abort {
		return nil
	}
	var targets []wrap.Target
	for _, t := range e.plan.Targets {
		if !e.done[stepWrap+":"+t.Name] {
			targets = append(targets, t)
		}
	}
	var sets []string // the scopes of the share sets still to make
	for _, v := range e.plan.shareSets() {
		if !e.done[v.keyStepID(stepBackup)] {
			sets = append(sets, v.scope)
		}
	}
	if len(targets) == 0 && len(sets) == 0 {
		return nil
	}
	so := e.plan.first(RoleSecurityOfficer)
	if err := e.login(hsm.SecurityOfficer, so, "so-pin"); err != nil {
		return err
	}
	tr := &trusted{wraps: map[string]*wrap.Prepared{}, backupKeys: map[string]*backup.Key{}, facts: TrustFacts{SecurityOfficer: so}}
	err := e.markTrusted(tr, targets, sets)
	if lerr := e.sess.Logout(); err == nil {
		err = lerr
	}
	if err != nil {
		e.dropTrusted(tr)
		return err
	}
	e.trusted = tr
	return nil
}

func (e *engine) markTrusted(tr *trusted, targets []wrap.Target, sets []string) error {
	var objects []wrap.TrustedObject
	for _, t := range targets {
		params, err := e.targetParams(t)
		if err != nil {
			return err
		}
		pr, err := wrap.Prepare(e.sess, params, e.plan.specFor(t), t.AllowHostAssisted, true)
		if err != nil {
			return err
		}
		tr.wraps[t.Name] = pr
		for _, o := range pr.Objects() {
			o.Target = t.Name
			objects = append(objects, o)
		}
	}
	for _, scope := range sets {
		keep := ""
		if e.plan.Custody.BackupKey == CustodyKeep {
			keep = e.plan.backupKeyLabel()
			if err := e.replaceStaleKeptKey(tr); err != nil {
				return err
			}
		}
		bk, err := backup.NewKey(e.sess, true, keep)
		if err != nil {
			return err
		}
		tr.backupKeys[scope] = bk
		kind := "backup key"
		if scope != "" {
			kind = "backup key of " + scope
		}
		objects = append(objects, wrap.TrustedObject{Kind: kind, ID: fmt.Sprintf("%x", bk.KEK.ID), KCV: bk.KCV, Trusted: true})
		if bk.Kept != nil {
			objects = append(objects, wrap.TrustedObject{Kind: "backup key, kept copy (wrap only)", ID: fmt.Sprintf("%x", bk.Kept.ID),
				Label: bk.Kept.Label, KCV: bk.KCV, Trusted: true})
		}
	}
	tr.facts.Objects = objects
	return nil
}

// replaceStaleKeptKey destroys a kept backup key copy an interrupted run made for a share set
// that was never sealed: nothing was backed up under it, and its bytes are gone.
func (e *engine) replaceStaleKeptKey(tr *trusted) error {
	k, err := e.destroyKeptBackupKey()
	if k != nil {
		tr.facts.DestroyedStaleKeptBackupKey = fmt.Sprintf("%x", k.ID)
	}
	return err
}

// destroyKeptBackupKey destroys the kept copy of the ceremony's backup key and returns it, or
// returns nil when the token holds none.
func (e *engine) destroyKeptBackupKey() (*hsm.Key, error) {
	k, err := e.sess.FindKey(e.plan.backupKeyLabel())
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := e.sess.Destroy(k); err != nil {
		return nil, err
	}
	return k, nil
}

func (e *engine) dropTrusted(tr *trusted) {
	for _, pr := range tr.wraps {
		pr.Destroy(e.sess)
	}
	for _, bk := range tr.backupKeys {
		bk.Destroy(e.sess)
	}
}

// recordTrust records the trust step, or the plan's exception to it.
func (e *engine) recordTrust() error {
	if e.plan.Custody.AllowUntrustedWrap {
		e.exceptionOnce(stepTrust, "custody.allow_untrusted_wrap: target keys are made without CKA_WRAP_WITH_TRUSTED and no key is marked CKA_TRUSTED; the token lets anyone with the user PIN wrap them out under a key of their own. Token capabilities: "+e.sess.Capabilities().String())
	}
	var waived []string
	for _, a := range e.sess.Capabilities().Refused {
		if slices.Contains(e.plan.Custody.AllowRefusedAttributes, a) {
			waived = append(waived, a)
		}
	}
	if len(waived) > 0 {
		e.exceptionOnce(stepTrust, "custody.allow_refused_attributes: the token refuses "+strings.Join(waived, ", ")+"; target keys are made without them")
	}
	if e.trusted == nil {
		return nil
	}
	how := "typed"
	if e.ui.Mode() == ModeHeadless {
		how = "headless (--so-pin-env)"
	}
	e.trusted.facts.SOPINEntered = how
	return e.record(stepTrust, e.trusted.facts)
}

// prepared returns the wrapping objects the trust step made for t; in a plan that allows
// untrusted wrapping, the user makes them now.
func (e *engine) prepared(t wrap.Target, params *wrap.Params) (*wrap.Prepared, error) {
	if !e.plan.trusting() {
		return wrap.Prepare(e.sess, params, e.key.Spec, t.AllowHostAssisted, false)
	}
	if e.trusted == nil || e.trusted.wraps[t.Name] == nil {
		return nil, fmt.Errorf("target %s: no trusted wrapping key was prepared for it in this run\nhint: resume the ceremony; the security officer's step marks the keys again", t.Name)
	}
	pr := e.trusted.wraps[t.Name]
	delete(e.trusted.wraps, t.Name)
	return pr, nil
}

// backupKey hands the trust step's backup key to the backup, which zeroes and destroys it.
func (e *engine) backupKey() *backup.Key {
	if e.trusted == nil {
		return nil
	}
	bk := e.trusted.backupKeys[e.plan.scope]
	delete(e.trusted.backupKeys, e.plan.scope)
	return bk
}

// custody records what stays in the token: each destruction as its own event, then the end
// state. The transcript signing key is destroyed after the seal, since the seal needs it; its
// event here records the intent, with the key's fingerprint.
func (e *engine) custody() error {
	state := CustodyFacts{SigningKey: "destroyed after the seal"}
	for _, v := range e.plan.shareSets() {
		if err := e.recordBackupKeyEnd(v, &state); err != nil {
			return err
		}
	}
	switch {
	case e.plan.Kind == KindReshare:
		state.Target = "not in the token (opened as a session object for the re-share, destroyed)"
	case e.plan.Custody.Target == CustodyDestroy:
		for _, v := range e.plan.Views() {
			if err := e.destroyTarget(v); err != nil {
				return err
			}
		}
		state.Target = "destroyed"
	default:
		state.Target = "kept"
		state.keeps(e.plan.Views())
	}
	if err := e.recordSigningKeyIntent(); err != nil {
		return err
	}
	return e.record(stepCustody, state)
}

// keeps names the keys of views as staying in the token: in TargetLabel for a plan of one key,
// as always, in TargetLabels for a ceremony of several.
func (state *CustodyFacts) keeps(views []*Plan) {
	if len(views) == 1 && views[0].scope == "" {
		state.TargetLabel = views[0].Key.Label
		return
	}
	for _, v := range views {
		state.TargetLabels = append(state.TargetLabels, v.Key.Label)
	}
}

// recordSigningKeyIntent records, before the seal, that the transcript signing key is destroyed
// after it: the seal needs the key, and nothing can be recorded after the seal.
func (e *engine) recordSigningKeyIntent() error {
	if e.done[stepDestroy+":signing-key"] {
		return nil
	}
	return e.record(stepDestroy+":signing-key", DestroyFacts{Label: e.signingLabel(), Fingerprint: e.tr.Fingerprint(),
		When: "after the seal, which it signs; nothing can be recorded after the seal, so the destruction itself is not in the transcript"})
}

// recordBackupKeyEnd records what became of the backup key of the share set of v.
func (e *engine) recordBackupKeyEnd(v *Plan, state *CustodyFacts) error {
	if e.plan.Custody.BackupKey == CustodyKeep {
		k, err := e.sess.FindKey(e.plan.backupKeyLabel())
		if err != nil {
			return fmt.Errorf("the kept copy of the backup key is not in the token: %w", err)
		}
		state.BackupKey = "kept"
		state.KeptBackupKey = &DestroyFacts{Label: k.Label, ID: fmt.Sprintf("%x", k.ID), How: "CKA_WRAP only"}
		return nil
	}
	state.BackupKey = "destroyed"
	step := v.keyStepID(stepDestroy + ":backup-key")
	if e.done[step] {
		return nil
	}
	ev, err := e.recordedEvent(v.keyStepID(stepBackup))
	if err != nil {
		return err
	}
	var set BackupFacts
	if err := json.Unmarshal(ev.Facts, &set); err != nil {
		return fmt.Errorf("the backup event cannot be read: %v", err)
	}
	return e.record(step, DestroyFacts{BackupKeyKCV: set.BackupKeyKCV, SetID: set.SetID,
		How: "a session object, destroyed once the blob was made and checked; its bytes were zeroed after the split"})
}

// destroyTarget destroys the target key of v. If an interruption came between the destruction
// and its record, the key is found gone and that is recorded.
func (e *engine) destroyTarget(v *Plan) error {
	step := v.keyStepID(stepDestroy + ":target")
	if e.done[step] {
		return nil
	}
	if v.scope != e.plan.scope {
		defer e.inScope(v.scope)()
	}
	facts := DestroyFacts{Label: e.plan.Key.Label}
	k, err := e.sess.FindKey(e.plan.Key.Label)
	switch {
	case errors.Is(err, hsm.ErrKeyNotFound):
		facts.FoundDestroyedAfterInterruption = true
	case err != nil:
		return err
	default:
		facts.ID = fmt.Sprintf("%x", k.ID)
		if err := e.loadKey(); err != nil {
			return err
		}
		facts.KCV, facts.Fingerprint = e.id.KCV, e.id.Fingerprint
		if err := e.sess.Destroy(k); err != nil {
			return err
		}
		e.key = nil
	}
	return e.record(step, facts)
}

// destroySigningKey destroys the transcript signing key once the seal is written: nobody can sign
// a rewritten transcript with it afterwards.
func (e *engine) destroySigningKey() error {
	g, err := e.sess.FindSigningKey(e.signingLabel())
	if errors.Is(err, hsm.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := g.Destroy(); err != nil {
		return fmt.Errorf("the transcript is sealed, but its signing key could not be destroyed: %w\nhint: run 'keyceremony run --resume DIR' to destroy it", err)
	}
	e.ui.Record("destroyed the transcript signing key " + e.signingLabel())
	return nil
}

// finishSealed handles a resume or abort of a sealed ceremony: if an interruption came between
// the seal and the destruction of the signing key, the key is destroyed now.
func (e *engine) finishSealed() error {
	sealed := errs.New("the ceremony in "+e.out+" is finished and sealed; there is nothing to resume", "check it with 'keyceremony verify "+e.out+"'")
	mod, err := hsm.Open(e.plan.Path(e.plan.Token.Module))
	if err != nil {
		return err
	}
	e.mod = mod
	if e.sess, err = mod.OpenSession(e.plan.Token.Token); err != nil {
		return err
	}
	if err := e.login(hsm.User, e.plan.first(RoleSecurityOfficer), "user-pin"); err != nil {
		return err
	}
	if _, err := e.sess.FindSigningKey(e.signingLabel()); errors.Is(err, hsm.ErrKeyNotFound) {
		return sealed
	}
	e.ui.Notice("the ceremony was sealed but its transcript signing key was still in the token (the run stopped between the seal and its destruction); destroying it now")
	return e.destroySigningKey()
}

// abortCustody records, before an abort seals the record, what the interrupted ceremony leaves in
// the token: the kept backup key copy of a share set that was never sealed is destroyed; a target
// key already made stays (the abort's exception says so); the signing key goes after the seal.
func (e *engine) abortCustody() error {
	if e.done[stepCustody] {
		return nil
	}
	state := CustodyFacts{SigningKey: "destroyed after the seal", Aborted: true}
	for _, v := range e.plan.shareSets() {
		if err := e.abortBackupKey(v, &state); err != nil {
			return err
		}
	}
	var kept []*Plan
	for _, v := range e.plan.Views() {
		exists, err := e.sess.LabelExists(v.Key.Label)
		if err != nil {
			return err
		}
		if exists && e.plan.Kind != KindReshare {
			kept = append(kept, v)
		}
	}
	state.Target = "not in the token"
	if len(kept) > 0 {
		state.Target = "kept (the ceremony was aborted)"
		state.keeps(kept)
	}
	if err := e.recordSigningKeyIntent(); err != nil {
		return err
	}
	return e.record(stepCustody, state)
}

func (e *engine) abortBackupKey(v *Plan, state *CustodyFacts) error {
	if e.done[v.keyStepID(stepBackup)] {
		return e.recordBackupKeyEnd(v, state)
	}
	state.BackupKey = "destroyed (its share set was never sealed)"
	if e.plan.Custody.BackupKey != CustodyKeep {
		return nil
	}
	k, err := e.destroyKeptBackupKey()
	if k == nil || err != nil {
		return err
	}
	return e.record(stepDestroy+":backup-key", DestroyFacts{Label: k.Label, ID: fmt.Sprintf("%x", k.ID),
		How: "the kept copy of a backup key whose share set was never sealed"})
}
