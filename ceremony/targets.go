//go:build cgo

package ceremony

import (
	"cmp"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/wrap"
)

// checkWrappingKey has a witness check the cloud's wrapping key against the printed import
// request, then pins every file the parameters came from into the record: later steps use those
// copies, never the files again.
func (e *engine) checkWrappingKey(t wrap.Target) error {
	step := stepCheckWrapKey + ":" + t.Name
	params, err := wrap.Load(t, e.plan.dir)
	if err != nil {
		return err
	}
	warnings, err := params.Validate(e.plan.spec, e.Now())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		e.ui.Notice("target " + t.Name + ": " + w)
	}
	// The attestation is checked again on the bytes about to be pinned, and its result signed
	// into this step's event; the job's JSON, pinned below, holds the attestation itself.
	att, err := params.CheckAttestation(e.Now())
	if err != nil {
		return err
	}
	// A skip is in the event's facts (policy skip), which show and review print.
	switch {
	case att == nil, att.Policy == wrap.AttestationSkip:
	case att.Failure != "":
		e.exception(step, "the import job's HSM attestation does not hold, and the plan says attestation: check, so the ceremony goes on: "+att.Failure)
		e.ui.Notice("target " + t.Name + ": the HSM attestation does not hold: " + att.Failure)
	default:
		e.ui.Success("the " + t.Name + " wrapping key is attested by the cloud's HSM (" + att.Result.Format + ")")
	}
	// The fingerprint is not shown before it is typed back: the check is that the key in the
	// file here is the one on the import request printed on the connected side.
	fp := params.Fingerprint()
	c, err := e.confirm(step, ConfirmRequest{
		Actor:  e.actor(),
		Prompt: fmt.Sprintf("Read aloud the wrapping key fingerprint of %s from the printed import request (8 groups of 4 hex digits and a letter); type it back", t.Name),
		Detail: fmt.Sprintf("%s wrapping key (%s) from %s", wrap.CloudName(t.Profile), params.Algorithm, cmp.Or(t.Params, t.PublicKey)),
	}, fp)
	if err != nil {
		return err
	}
	if c.How != ConfirmedHeadless {
		e.ui.Success(fmt.Sprintf("the %s wrapping key matches the import request: %s", t.Name, fp))
	}
	inputs := map[string]PinnedInput{}
	var files []string
	for _, in := range params.Inputs {
		rel := path.Join(InputsDir, t.Name, in.Field+cmp.Or(filepath.Ext(in.Path), ".bin"))
		if inputs[in.Field], err = e.pin(step, planField(t, in.Field), rel, in.Data); err != nil {
			return err
		}
		files = append(files, rel)
	}
	return e.record(step, CheckWrappingKeyFacts{Key: e.plan.scope, Target: path.Base(t.Name), AlsoFor: e.whole.sharing(t), Profile: t.Profile, Algorithm: params.Algorithm, WrappingKeyFingerprint: fp,
		Confirmed: c, Inputs: inputs, ParametersValidTo: params.ValidTo, Attestation: att}, files...)
}

// planField is the path a target's field gives in the plan.
func planField(t wrap.Target, field string) string {
	return map[string]string{"params": t.Params, "public_key": t.PublicKey, "import_token": t.ImportToken}[field]
}

// checkedParams loads a target's parameters from the copies its check pinned in the record. A
// source file changed since is not used; the transcript says it changed.
func (e *engine) checkedParams(t wrap.Target) (*wrap.Params, error) {
	inputs := map[string]PinnedInput{}
	files, err := e.pinnedFiles(e.plan.checkStep(t), inputs)
	if err != nil {
		return nil, err
	}
	for _, in := range inputs {
		now, err := os.ReadFile(e.plan.Path(in.Source))
		if err != nil || sha256Hex(now) != in.SHA256 {
			e.exception(stepWrap+":"+t.Name, fmt.Sprintf("%s changed after the witness checked it; it is not used: the checked copy %s is", in.Source, in.Copy))
			e.ui.Notice(fmt.Sprintf("target %s: %s changed after it was checked; the checked copy %s is used", t.Name, in.Source, in.Copy))
		}
	}
	return wrap.LoadPinned(t, files)
}

func (e *engine) wrapTarget(t wrap.Target) error {
	if err := e.loadKey(); err != nil {
		return err
	}
	params, err := e.checkedParams(t)
	if err != nil {
		return err
	}
	if _, err := params.Validate(e.key.Spec, e.Now()); err != nil {
		return err
	}
	rel := filepath.Join("targets", t.Name)
	dir := filepath.Join(e.out, rel)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	facts := WrapFacts{Key: e.plan.scope, Target: path.Base(t.Name), Profile: t.Profile, Algorithm: params.Algorithm}
	var m *wrap.Manifest
	step := stepWrap + ":" + t.Name
	in, _, err := e.intent(stepWrap)
	if err != nil {
		return err
	}
	intended := slices.Contains(in.Packages, filepath.ToSlash(rel))
	if _, err := os.Stat(dir); err == nil {
		// A resume after the package was written but before it was recorded: it is complete
		// (built under a temporary name, then renamed into place). Only the package this
		// ceremony said it would write is checked to hold this key and taken over.
		if !intended {
			return errs.Unchanged(fmt.Sprintf("%s exists, and this ceremony recorded no intent to write it", dir), "it was not written by this ceremony: move it out of the ceremony folder, find out where it came from, then resume")
		}
		if m, err = wrap.ReadManifest(dir); err != nil {
			return err
		}
		if m.Key.KCV != e.id.KCV || m.Key.Fingerprint != e.id.Fingerprint {
			return errs.Unchanged(fmt.Sprintf("%s holds a package for another key", dir), "investigate before going on")
		}
		if m.WrappingKeyFingerprint != params.Fingerprint() {
			return errs.Unchanged(fmt.Sprintf("%s is wrapped under %s, not under the wrapping key the witness checked (%s)", dir, m.WrappingKeyFingerprint, params.Fingerprint()), "investigate before going on")
		}
		facts.AdoptedAfterInterruption = true
		e.exception(step, "package "+rel+" was written before the interruption; it is taken over, not made again")
	} else {
		if !intended {
			if err := e.recordIntent(stepWrap, Intent{Packages: e.packagesToWrite()}); err != nil {
				return err
			}
		}
		// The spinner ends once the package is on disk, where a crash leaves it to be taken over.
		done := e.ui.Busy("Wrapping the key for " + t.Name)
		m, err = e.makePackage(t, params, dir)
		done()
		if err != nil {
			return err
		}
	}
	facts.Strategy, facts.StrategyReason, facts.WrappingKeyFingerprint = m.Strategy, m.StrategyReason, m.WrappingKeyFingerprint
	facts.NewVersion = m.NewVersion
	files := []string{filepath.Join(rel, wrap.ManifestName)}
	for name := range m.Files {
		files = append(files, filepath.Join(rel, name))
	}
	return e.record(step, facts, files...)
}

// packagesToWrite are the folders of the import packages the ceremony has yet to write, which
// one intent event names before the first of them: one event for all keeps a ceremony of many
// keys and targets from paying a signed, synced event per package for it.
func (e *engine) packagesToWrite() []string {
	var pkgs []string
	for _, t := range e.whole.Targets {
		if step := stepWrap + ":" + t.Name; !e.done[step] && e.recorded[step].Step == "" {
			pkgs = append(pkgs, path.Join("targets", t.Name))
		}
	}
	return pkgs
}

// makePackage wraps the key for a target, strongest strategy first, and writes its package.
func (e *engine) makePackage(t wrap.Target, params *wrap.Params, dir string) (*wrap.Manifest, error) {
	pr, err := e.prepared(t, params)
	if err != nil {
		return nil, err
	}
	res, err := wrap.Wrap(e.sess, params, e.key, pr)
	if err != nil {
		return nil, err
	}
	if err := e.paddedPKCS8Exception(t); err != nil {
		return nil, err
	}
	if res.Strategy == wrap.StrategyHostAssisted {
		e.exception(stepWrap+":"+t.Name, "host-assisted wrap (allowed by the plan): "+res.Reason)
	}
	info, err := wrap.Describe(e.sess, e.key)
	if err != nil {
		return nil, err
	}
	if info.NewVersion, err = e.plan.newVersion(t, params, e.key.Spec); err != nil {
		return nil, err
	}
	return wrap.WritePackage(dir, params, info, res, e.Now())
}
