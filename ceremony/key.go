//go:build cgo

package ceremony

import (
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// keyFacts describes the target key for the transcript without revealing it.
func (e *engine) keyFacts() (*KeyFacts, error) {
	id, err := e.sess.Identify(e.key)
	if err != nil && e.oldManifest != nil && e.key.Spec.Type == hsmspec.EC {
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
	// The attributes by their PKCS#11 names, as hsm.KeyAttributes names them.
	var named map[string]bool
	b, _ := json.Marshal(attrs)
	if err := json.Unmarshal(b, &named); err != nil {
		return nil, err
	}
	return &KeyFacts{Label: e.key.Label, Spec: e.key.Spec.String(), ID: fmt.Sprintf("%x", e.key.ID), Attributes: named, KCV: id.KCV, Fingerprint: id.Fingerprint}, nil
}

// generateKey makes the target key, with the CKA_ID its intent event recorded first. On resume
// only the key named by that intent is taken over: a key with the plan's label and another
// CKA_ID, or any key when no intent was recorded, was made by someone else and is refused.
func (e *engine) generateKey() error {
	label := e.plan.Key.Label
	step := e.plan.keyStepID(stepGenerateKey)
	in, intended, err := e.keyIntent(label)
	if err != nil {
		return err
	}
	// Each search goes through every object of the token. Where the intent was recorded earlier in
	// this run nothing can have been made under it yet, and GenerateKeyWithID's own search refuses
	// a key planted since; so the token is searched here only for a new intent or on resume.
	exists := false
	if !intended || e.Resume {
		if exists, err = e.sess.LabelExists(label); err != nil {
			return err
		}
	}
	adopted := false
	switch {
	case exists && !intended:
		return errs.Unchanged(fmt.Sprintf("token %q has a key labelled %q that this ceremony did not make (it recorded no intent to make one)", e.sess.Token().Label, label), "someone with the PIN made it: find out who; remove it with the vendor's tool, then resume")
	case exists:
		// The key was made, the run stopped before recording it: take it over, never make it twice.
		if e.key, err = e.sess.FindKey(label); err != nil {
			return err
		}
		if got := hex.EncodeToString(e.key.ID); got != in.CKAID {
			return errs.Unchanged(fmt.Sprintf("token key %q has CKA_ID %q, not %q, which this ceremony recorded before making its key: it is not the ceremony's key", label, got, in.CKAID), "someone with the PIN made it: find out who; remove it with the vendor's tool, then resume")
		}
		if !e.matchesPlan(e.key) {
			return errs.Unchanged(fmt.Sprintf("token key %q is %s, the plan says %s", label, e.key.Spec, e.plan.spec), "this key was not made by this ceremony; investigate before going on")
		}
		attrs, err := e.sess.Attributes(e.key)
		if err != nil {
			return err
		}
		if !attrs.Local || !attrs.AlwaysSensitive {
			return errs.Unchanged(fmt.Sprintf("token key %q was not generated in this token (CKA_LOCAL or CKA_ALWAYS_SENSITIVE is false)", label), "investigate before going on")
		}
		adopted = true
		e.exception(step, "key "+label+" was generated before the interruption and not recorded; it is taken over, not made again")
	default:
		switch {
		case !intended:
			in, err = e.recordKeyIntents(label)
		case e.Resume:
			err = e.refuseTakenID(in)
		}
		if err != nil {
			return err
		}
		id, err := hex.DecodeString(in.CKAID)
		if err != nil {
			return err
		}
		done := e.ui.Busy("Generating " + e.plan.spec.String() + " in the HSM")
		e.key, err = e.sess.GenerateKeyWithID(label, id, e.plan.spec)
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
		facts.AdoptedAfterInterruption = true
	}
	facts.Rotates = e.plan.rotatedKey()
	if err := e.signOffKey(step, facts); err != nil {
		return err
	}
	return e.record(step, facts)
}

// keyIntent finds, in the intent recorded before the first key was made, the label and CKA_ID
// of the key labelled label.
func (e *engine) keyIntent(label string) (KeyIntent, bool, error) {
	in, _, err := e.intent(stepGenerateKey)
	for _, k := range in.Keys {
		if k.Label == label {
			return k, true, err
		}
	}
	return KeyIntent{}, false, err
}

// recordKeyIntents records the intent to make every key of the plan not made yet, each with a
// CKA_ID drawn now, in one event before the first of them is made; it returns the intent for
// the key labelled label. One event for all keeps a ceremony of many keys from paying a signed,
// synced event per key for it.
func (e *engine) recordKeyIntents(label string) (KeyIntent, error) {
	var in Intent
	var mine KeyIntent
	for _, v := range e.whole.Views() {
		if e.done[v.keyStepID(stepGenerateKey)] || e.recorded[v.keyStepID(stepGenerateKey)].Step != "" {
			continue
		}
		id, err := e.sess.NewKeyID()
		if err != nil {
			return mine, err
		}
		k := KeyIntent{Label: v.Key.Label, CKAID: hex.EncodeToString(id)}
		if k.Label == label {
			mine = k
		}
		in.Keys = append(in.Keys, k)
	}
	return mine, e.recordIntent(stepGenerateKey, in)
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
