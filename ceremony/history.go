package ceremony

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/wrap"
)

// History is what the ceremony folders a rotation names (--history DIR...) record, read as the
// inventory reads them, every folder having verified: a rotation links its new key to the old
// one only through what verified transcripts prove.
type History struct {
	dirs []string
	inv  *InventoryReport
}

// ReadHistory verifies every ceremony folder under dirs (each a ceremony folder or a folder
// holding some) and reads them. It refuses when dirs is empty, when a folder under them does
// not verify, and when one holds no ceremony transcript at all.
func ReadHistory(dirs []string) (*History, error) {
	if len(dirs) == 0 {
		return nil, errs.Unchanged("a rotation needs the history of the keys it rotates",
			"give the folders of the ceremonies that made them, and of every later ceremony of them, with --history DIR...")
	}
	inv, err := Inventory(dirs...)
	if err != nil {
		return nil, errs.Unchanged(fmt.Sprintf("the history cannot be read: %v", strings.TrimPrefix(err.Error(), "inventory: ")),
			"give existing ceremony folders with --history")
	}
	if len(inv.Unverified) > 0 {
		u := inv.Unverified[0]
		return nil, errs.Unchanged(fmt.Sprintf("history folder %s does not verify: %s", u.Dir, u.Problem),
			"a rotation links keys only through verified transcripts; check it with keyceremony verify "+u.Dir+", or leave it out of --history")
	}
	for _, d := range dirs {
		if !slices.ContainsFunc(inv.folders, func(c CeremonyRecord) bool { return within(c.Dir, d) }) {
			return nil, errs.Unchanged(fmt.Sprintf("history folder %s holds no ceremony transcript", d),
				"give ceremony folders (each holds transcript.jsonl), or folders that hold them")
		}
	}
	return &History{dirs: dirs, inv: inv}, nil
}

// RotationSource is the key a rotation replaces as the history records it: the facts its
// generate-key event records (KeyFacts.Rotates), and the manifest of the key's latest package for
// each target, whose bytes are the ones its wrap event signed, to check the rotation's targets
// against (wrap.Params.NewVersionOf).
type RotationSource struct {
	Facts     RotatedKeyFacts
	Manifests map[string]*wrap.Manifest // by target name
}

// Find finds the key a rotation names: by label and check value (secret keys) or fingerprint
// (key pairs). It refuses a label the history does not have, a key of that label with another
// check value or fingerprint, and a key a later verified rotation already replaced.
func (h *History) Find(label, kcv, fingerprint string) (*RotationSource, error) {
	var named []*KeyRecord
	for _, k := range h.inv.Keys {
		if k.Label == label {
			named = append(named, k)
		}
	}
	if len(named) == 0 {
		return nil, errs.Unchanged(fmt.Sprintf("the history (%s) has no key %s", strings.Join(h.dirs, ", "), label),
			"give with --history the folder of the ceremony that made it, and of its later ceremonies")
	}
	i := slices.IndexFunc(named, func(k *KeyRecord) bool {
		return kcv != "" && k.KCV == kcv || fingerprint != "" && k.Fingerprint == fingerprint
	})
	if i < 0 {
		var has []string
		for _, k := range named {
			has = append(has, keyIdentity(k.KCV, k.Fingerprint, ""))
		}
		kind, _, _ := strings.Cut(has[0], " ")
		return nil, errs.Unchanged(fmt.Sprintf("the history has key %s with %s, the plan says %s", label, strings.Join(has, " and "), keyIdentity(kcv, fingerprint, kind)),
			"a different check value or fingerprint is a different key: check rotates: in the plan against the paper log of the ceremony that made "+label)
	}
	k := named[i]
	if r := k.RotatedBy; r != nil {
		return nil, errs.Unchanged(fmt.Sprintf("key %s (%s) was already rotated by ceremony %s on %s into %s", label, keyIdentity(k.KCV, k.Fingerprint, ""), r.Ceremony, day(r.Time), linkName(r)),
			"a key is rotated once; to rotate again, name "+r.Label+" in rotates:")
	}
	src := &RotationSource{Manifests: map[string]*wrap.Manifest{}}
	f := &src.Facts
	f.Label, f.Spec, f.KCV, f.Fingerprint, f.Made = k.Label, k.Spec, k.KCV, k.Fingerprint, k.Made
	for _, c := range k.Ceremonies { // the earliest: the one that made it
		if f.Ceremony == "" {
			f.Ceremony, f.Folder, f.CheckpointSHA256 = c.ID, c.Dir, c.CheckpointSHA256
		}
	}
	latest := map[string]TargetRecord{}
	for _, t := range k.Targets {
		if l, ok := latest[t.Name]; !ok || t.Wrapped.After(l.Wrapped) {
			latest[t.Name] = t
		}
	}
	for _, name := range slices.Sorted(maps.Keys(latest)) {
		t := latest[name]
		if t.manifest == nil {
			return nil, errs.Unchanged(fmt.Sprintf("the package of key %s for target %s (%s) has no manifest its wrap event signed", label, name, t.Package),
				"give the ceremony folders as the ceremony wrote them")
		}
		src.Manifests[name] = t.manifest
		f.Targets = append(f.Targets, RotatedTarget{Name: name, Profile: t.Profile, CloudKey: t.manifest.CloudKey(), Ceremony: t.Ceremony,
			Package: t.Package, ManifestSHA256: t.manifestSHA256})
	}
	for _, c := range h.inv.folders {
		f.History = append(f.History, HistoryFolder{Folder: c.Dir, Ceremony: c.ID, CheckpointSHA256: c.CheckpointSHA256})
	}
	slices.SortFunc(f.History, func(a, b HistoryFolder) int { return strings.Compare(a.Folder, b.Folder) })
	return src, nil
}

// keyIdentity says a check value or fingerprint with what it is, "KCV a1b2c3" or "fingerprint
// SHA256:...", leaving out the word when it is kind.
func keyIdentity(kcv, fingerprint, kind string) string {
	s := "fingerprint " + fingerprint
	if kcv != "" {
		s = "KCV " + kcv
	}
	if w, rest, _ := strings.Cut(s, " "); w == kind {
		return rest
	}
	return s
}

// CheckTargets refuses a rotation whose targets are not the old key's: every target of the old
// key must be in the plan with its name and profile, and the plan may add none. The cloud key of
// each is checked by wrap.Params.NewVersionOf with the manifest in Manifests.
func (src *RotationSource) CheckTargets(targets []wrap.Target) error {
	label := src.Facts.Label
	var names []string
	for _, t := range src.Facts.Targets {
		names = append(names, t.Name)
	}
	for _, t := range targets {
		m, ok := src.Manifests[t.Name]
		switch {
		case !ok:
			return errs.Unchanged(fmt.Sprintf("target %s is not one of the targets key %s was imported into (%s)", t.Name, label, strings.Join(names, ", ")),
				"a rotation makes new versions of the old key's cloud keys: give its targets their earlier names; a new target needs a generate ceremony")
		case m.Profile != t.Profile:
			return errs.Unchanged(fmt.Sprintf("target %s was %s for key %s, the plan says %s", t.Name, m.Profile, label, t.Profile),
				"give the target the profile it had")
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(targets, func(t wrap.Target) bool { return t.Name == n }) {
			return errs.Unchanged(fmt.Sprintf("key %s was imported into target %s, which the plan leaves out", label, n),
				"a rotation replaces the key everywhere it was imported: give every one of its targets ("+strings.Join(names, ", ")+")")
		}
	}
	return nil
}
