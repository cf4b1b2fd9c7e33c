package ceremony

import (
	"fmt"
	"path"
	"path/filepath"
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

// SetHistory names the folders a rotation's keys are looked up in (--history DIR...): ceremony
// folders, or folders holding them. Check and a resumed run read them (checkRotations); the
// record names them by absolute path.
func (p *Plan) SetHistory(dirs []string) {
	p.history = make([]string, len(dirs))
	for i, d := range dirs {
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		p.history[i] = d
	}
}

// validateRotates checks rotates: in every key: each key of a rotation names the key it
// replaces, no two the same one, and no key of another kind of ceremony names one.
func (p *Plan) validateRotates() error {
	p.rotations = map[string]*Rotation{}
	rotated := map[string]string{}
	for _, v := range p.Views() {
		r, label := v.Key.Rotates, v.Key.Label
		switch {
		case r != nil && p.Kind != KindRotate:
			return planErr("key %s: rotates is for kind: rotate plans\nhint: set kind: rotate, or remove rotates", label)
		case r == nil && p.Kind == KindRotate:
			return planErr("key %s has no rotates\nhint: a rotation names, for each key, the key it replaces: rotates: {label, kcv} (fingerprint for a key pair)", label)
		case r == nil:
			continue
		}
		if err := r.validate(label, v.spec); err != nil {
			return err
		}
		if other, ok := rotated[r.Label]; ok {
			return planErr("keys %s and %s both rotate %s\nhint: a key is replaced by one key", other, label, r.Label)
		}
		rotated[r.Label] = label
	}
	return nil
}

// rotatesNote says, in the script, which key a rotation's key replaces.
func (p *Plan) rotatesNote() string {
	r := p.Key.Rotates
	if r == nil {
		return ""
	}
	return fmt.Sprintf(", replacing %s (%s)", r.Label, keyIdentity(r.KCV, r.Fingerprint, ""))
}

// checkRotations reads the history and checks each key's rotation (checkRotation) before the
// token is touched, keeping what it found for the steps. It does nothing for other kinds.
func (p *Plan) checkRotations() error {
	if p.Kind != KindRotate {
		return nil
	}
	h, err := ReadHistory(p.history)
	if err != nil {
		return err
	}
	for _, v := range p.Views() {
		targets := make([]wrap.Target, len(v.Targets))
		for i, t := range v.Targets {
			t.Name = path.Base(t.Name) // LABEL/TARGET in a keys: plan; the history names TARGET
			targets[i] = t
		}
		rot, err := checkRotation(h, *v.Key.Rotates, v.spec, targets, func(t wrap.Target) (*wrap.Params, error) { return wrap.Load(t, p.dir) })
		if err != nil {
			return err
		}
		p.rotations[v.Key.Label] = rot
	}
	return nil
}

// rotatedKey is what the generate-key event of this view's key records of the key it replaces;
// nil outside a rotation.
func (p *Plan) rotatedKey() *RotatedKeyFacts {
	if rot := p.rotations[p.Key.Label]; rot != nil {
		return &rot.Source.Facts
	}
	return nil
}

// newVersion is how the package for target t, wrapped under params, makes this view's key of spec
// a new version of the rotated key's cloud key; nil outside a rotation. It is decided again with
// the parameters the package is wrapped under (the witness's pinned copy on a resume).
func (p *Plan) newVersion(t wrap.Target, params *wrap.Params, spec hsmspec.KeySpec) (*wrap.NewVersion, error) {
	rot := p.rotations[p.Key.Label]
	if rot == nil {
		return nil, nil
	}
	return params.NewVersionOf(spec, rot.Source.Manifests[path.Base(t.Name)])
}

// RotationSummary says, for plan check, after Check: which key each of a rotation's keys replaces,
// and how each of its packages will make it a new version of the old key's cloud key, and why.
func (p *Plan) RotationSummary() []string {
	var lines []string
	for _, v := range p.Views() {
		rot := p.rotations[v.Key.Label]
		if rot == nil {
			continue
		}
		f := rot.Source.Facts
		lines = append(lines, fmt.Sprintf("key %s replaces %s (%s), made by ceremony %s in %s", v.Key.Label, f.Label, keyIdentity(f.KCV, f.Fingerprint, ""), f.Ceremony, f.Folder))
		for _, t := range f.Targets {
			if nv := rot.NewVersions[t.Name]; nv != nil {
				lines = append(lines, fmt.Sprintf("  target %s: %s: %s", t.Name, nv.Path, nv.Why))
			}
		}
	}
	return lines
}
