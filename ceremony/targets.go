package ceremony

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyceremony/keyceremony/wrap"
)

func (e *engine) checkWrappingKey(t wrap.Target) error {
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

func (e *engine) wrapTarget(t wrap.Target) error {
	if err := e.loadKey(); err != nil {
		return err
	}
	params, err := wrap.Load(t, e.plan.dir)
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
		// The spinner ends once the package is on disk, where a crash leaves it to be taken over.
		done := e.ui.Busy("Wrapping the key for " + t.Name)
		m, err = e.makePackage(t, params, dir)
		done()
		if err != nil {
			return err
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

// makePackage wraps the key for a target, strongest strategy first, and writes its package.
func (e *engine) makePackage(t wrap.Target, params *wrap.Params, dir string) (*wrap.Manifest, error) {
	res, err := wrap.Wrap(e.sess, params, e.key, t.AllowHostAssisted)
	if err != nil {
		return nil, err
	}
	if res.Strategy == wrap.StrategyHostAssisted {
		e.exception(stepWrap+":"+t.Name, "host-assisted wrap (allowed by the plan): "+res.Reason)
	}
	info, err := wrap.Describe(e.sess, e.key)
	if err != nil {
		return nil, err
	}
	return wrap.WritePackage(dir, params, info, res, e.Now())
}
