package ceremony

import (
	"fmt"
	"regexp"

	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

// RotatesPlan names, in a rotation (kind: rotate), the key a planned key replaces: by label and
// check value (secret keys) or fingerprint (key pairs), as the paper log of its ceremony has
// them. The key is looked up in the verified history given with --history (ReadHistory).
type RotatesPlan struct {
	Label       string `yaml:"label"`
	KCV         string `yaml:"kcv"`
	Fingerprint string `yaml:"fingerprint"`
}

var (
	kcvPattern         = regexp.MustCompile(`^[0-9a-f]{6}$`)
	fingerprintPattern = regexp.MustCompile(`^SHA256:[0-9a-f]{64}$`)
)

// validate checks what rotates: says of itself, for the key labelled key of spec.
func (r *RotatesPlan) validate(key string, spec hsmspec.KeySpec) error {
	pair := spec.Type == hsmspec.RSA || spec.Type == hsmspec.EC
	switch {
	case r.Label == "":
		return planErr("key %s: rotates.label is missing\nhint: name the key it replaces, as the paper log of its ceremony has it", key)
	case r.KCV != "" && r.Fingerprint != "":
		return planErr("key %s: rotates gives both kcv and fingerprint\nhint: a secret key is named by its kcv, a key pair by its fingerprint", key)
	case pair && !fingerprintPattern.MatchString(r.Fingerprint):
		return planErr("key %s: rotates.fingerprint %q is not a public key fingerprint\nhint: copy it from the paper log of the ceremony that made %s: SHA256: and 64 lowercase hex digits", key, r.Fingerprint, r.Label)
	case !pair && !kcvPattern.MatchString(r.KCV):
		return planErr("key %s: rotates.kcv %q is not a key check value\nhint: copy it from the paper log of the ceremony that made %s: 6 lowercase hex digits", key, r.KCV, r.Label)
	}
	return nil
}

// Rotation is what a rotation's preflight found for one key: the key it replaces, and how each
// target's package makes the new key a new version of that target's cloud key.
type Rotation struct {
	Source      *RotationSource
	NewVersions map[string]*wrap.NewVersion // by target name
}

// checkRotation checks, before the token is touched, that the key of spec rotating r replaces a
// key of the history h of the same type, and that its targets are that key's, each with import
// parameters (load) for the same cloud key, in a way the cloud offers for spec.
func checkRotation(h *History, r RotatesPlan, spec hsmspec.KeySpec, targets []wrap.Target, load func(wrap.Target) (*wrap.Params, error)) (*Rotation, error) {
	src, err := h.Find(r.Label, r.KCV, r.Fingerprint)
	if err != nil {
		return nil, err
	}
	old, err := hsmspec.ParseKeySpec(src.Facts.Spec)
	if err != nil || old.Type != spec.Type {
		return nil, errs.Unchanged(fmt.Sprintf("the history has key %s as %s, the plan makes %s", r.Label, src.Facts.Spec, spec),
			"a rotation makes a new version of the same kind of key: give the key the type of the one it replaces")
	}
	if err := src.CheckTargets(targets); err != nil {
		return nil, err
	}
	rot := &Rotation{Source: src, NewVersions: map[string]*wrap.NewVersion{}}
	for _, t := range targets {
		p, err := load(t)
		if err != nil {
			return nil, err
		}
		nv, err := p.NewVersionOf(spec, src.Manifests[t.Name])
		if err != nil {
			return nil, err
		}
		rot.NewVersions[t.Name] = nv
	}
	return rot, nil
}
