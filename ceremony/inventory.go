package ceremony

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/wrap"
)

// A KeyRecord is what the transcripts say of one key: where it came from, who holds its backup,
// where it was imported, and when it is due for rotation. Keys are told apart by label and check
// value or fingerprint, never by their value. Its JSON form is the inventory's --json schema
// (docs/lifecycle.md): never rename a field.
type KeyRecord struct {
	Label       string           `json:"label"`
	Spec        string           `json:"type"`
	KCV         string           `json:"kcv,omitempty"`
	Fingerprint string           `json:"fingerprint,omitempty"`
	Made        time.Time        `json:"made"` // the first ceremony that made or restored it
	Ceremonies  []CeremonyRecord `json:"ceremonies"`
	Backup      *BackupRecord    `json:"backup"`     // the latest share set that no later set replaces
	Superseded  []*BackupRecord  `json:"superseded"` // the key's earlier sets, replaced by a re-share
	Targets     []TargetRecord   `json:"targets"`
	// Tokens are the tokens the key was left in, or destroyed in, by the latest verified ceremony
	// on each: the custody the plan chose (docs/custody.md).
	Tokens     []TokenRecord    `json:"tokens"`
	Exceptions []ExceptionEntry `json:"exceptions"` // from its ceremonies and its sets' check-ins
	// Rotates is the key this one replaced, when a rotation made it; RotatedBy the rotation that
	// replaced this one, from a later verified rotation's generate-key event. A rotated key's
	// backup stays valid for decrypting old data: the rotation does not supersede its set.
	Rotates   *RotationLink `json:"rotates,omitempty"`
	RotatedBy *RotationLink `json:"rotated_by,omitempty"`

	// Filled by Assess, at a time and under a policy.
	AgeDays         int       `json:"age_days"`
	RotationDue     time.Time `json:"rotation_due"`
	RotationOverdue bool      `json:"rotation_overdue"`
	Due             bool      `json:"due"`     // rotation, a re-import or a holder's check-in is due
	AtRisk          bool      `json:"at_risk"` // the current set's quorum is at risk
}

// RotationLink is the other end of a rotation: the key (label and check value or fingerprint), the
// ceremony and its time. For KeyRecord.Rotates it is the old key and the ceremony that made it;
// for KeyRecord.RotatedBy the new key and the rotation that made it.
type RotationLink struct {
	Label       string    `json:"label"`
	KCV         string    `json:"kcv,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Ceremony    string    `json:"ceremony"`
	Time        time.Time `json:"time"`
}

// TokenRecord is what the latest verified ceremony on a token recorded of the key there.
type TokenRecord struct {
	Token    string    `json:"token"` // the token's label
	Serial   string    `json:"serial"`
	State    string    `json:"state"` // "kept", "destroyed", "kept (the ceremony was aborted)"
	Ceremony string    `json:"ceremony"`
	Time     time.Time `json:"time"`
}

// inToken records what ceremony rec, on the token its begin event names, did with key k.
func (k *KeyRecord) inToken(t TokenFacts, state string, rec CeremonyRecord, when time.Time) {
	r := TokenRecord{Token: t.Label, Serial: t.Serial, State: state, Ceremony: rec.ID, Time: when}
	for i, old := range k.Tokens {
		if old.Token == r.Token && old.Serial == r.Serial {
			if old.Time.Before(when) {
				k.Tokens[i] = r
			}
			return
		}
	}
	k.Tokens = append(k.Tokens, r)
}

// CeremonyRecord is one ceremony folder: a verified one, or one that did not verify and why.
type CeremonyRecord struct {
	Dir      string    `json:"dir"`
	ID       string    `json:"ceremony,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Problem  string    `json:"problem,omitempty"`  // why it did not verify; "" when it did
	Headless bool      `json:"headless,omitempty"` // it ran headless: no person confirmed its checks
	// SigningKey is the fingerprint of the key that signed it, to compare with the paper log
	// (a check-in is signed by a key made in memory for it alone).
	SigningKey string `json:"signing_key,omitempty"`
	// CheckpointSHA256 is the hex SHA-256 of its checkpoint as the seal wrote it (the one on the
	// paper log, without the lines cosigning adds later), which a rotation pins.
	CheckpointSHA256 string `json:"checkpoint_sha256,omitempty"`
}

// BackupRecord is a sealed share set and, for the current set, its holders' check-ins.
type BackupRecord struct {
	SetID      string    `json:"set_id"`
	Threshold  int       `json:"threshold"`
	Custodians []string  `json:"custodians"`
	Replaces   string    `json:"replaces,omitempty"`
	Time       time.Time `json:"sealed"`
	Dir        string    `json:"sealed_in"`
	// Custody is assessed for the current set only (KeyRecord.Backup).
	Custody *Custody `json:"custody,omitempty"`
}

// Custody is who can prove their share of the current set, by Assess.
type Custody struct {
	// IntervalDays is how often holders should check in: from the set's latest check-in plan,
	// else the inventory's policy.
	IntervalDays int            `json:"interval_days"`
	Holders      []HolderRecord `json:"holders"`
	// VerifiedWithin is how many holders proved their share within the interval; QuorumAtRisk
	// is set when that is below the threshold.
	VerifiedWithin int  `json:"verified_within_interval"`
	QuorumAtRisk   bool `json:"quorum_at_risk"`
}

// HolderRecord is a custodian of the current set and the last time their share was proven: the
// verification round when the set was sealed, or a later check-in.
type HolderRecord struct {
	Name         string    `json:"name"`
	Index        int       `json:"index"`
	LastVerified time.Time `json:"last_verified"`
	VerifiedBy   string    `json:"verified_by"` // "sealed" (the verification round) or "check-in CEREMONY"
	NextDue      time.Time `json:"next_due"`
	Overdue      bool      `json:"overdue"`
}

// ExceptionEntry is an exception event of a key's history.
type ExceptionEntry struct {
	Time      time.Time `json:"time"`
	Ceremony  string    `json:"ceremony"`
	Step      string    `json:"step"`
	Exception string    `json:"exception"`
}

// TargetRecord is an import package made for the key and what the receipts beside it say.
// Receipts are written on the connected side and signed by nobody: one counts as an upload only
// when the manifest.json SHA-256 it names is the one the signed wrap event recorded, and even
// then it is the receipt's word, not a signed fact.
type TargetRecord struct {
	Name              string    `json:"name"`
	Profile           string    `json:"profile"`
	Strategy          string    `json:"strategy"`
	Package           string    `json:"package"`
	ParametersValidTo time.Time `json:"parameters_valid_to,omitzero"`
	// KMSKeyID and MaterialValidTo are the AWS KMS key and, for KEY_MATERIAL_EXPIRES, when the
	// imported material expires (re-import before it), from the package manifest the wrap event
	// signed.
	KMSKeyID        string    `json:"kms_key_id,omitempty"`
	MaterialValidTo time.Time `json:"material_valid_to,omitzero"`
	// Wrapped is when the package was made, in ceremony Ceremony; ReplacedBy names the later
	// ceremony whose package for the same KMS key re-imports the material (a rewrap), after which
	// this package's expiry no longer counts. ReimportDue is filled by Assess.
	Wrapped     time.Time `json:"wrapped"`
	Ceremony    string    `json:"ceremony"`
	ReplacedBy  string    `json:"replaced_by,omitempty"`
	ReimportDue bool      `json:"reimport_due"`
	Uploaded    time.Time `json:"uploaded,omitzero"` // from the latest matching receipt; zero when none
	KeyState    string    `json:"key_state,omitempty"`
	Unverified  []string  `json:"unverified_receipts,omitempty"` // receipts that do not match the signed package, and why
	// NewVersion is, for a rotation's package, how it makes the key a new version of the rotated
	// key's cloud key (wrap.NewVersion's path).
	NewVersion string `json:"new_version,omitempty"`

	manifest       *wrap.Manifest // the package manifest, when its bytes are the ones the wrap event signed
	manifestSHA256 string
}

// InventoryReport is what the inventory found: the keys that verified folders record, and the
// folders that did not verify, whose facts are not used at all.
type InventoryReport struct {
	Keys       []*KeyRecord     `json:"keys"`
	Unverified []CeremonyRecord `json:"unverified"`
	// Orphans are check-ins of sets no verified folder seals.
	Orphans []string `json:"orphan_check_ins,omitempty"`
	// Now and the policy Assess applied.
	Now                 time.Time `json:"now"`
	RotateAfterDays     int       `json:"rotate_after_days"`
	CheckInIntervalDays int       `json:"check_in_interval_days"`
	ReimportWarnDays    int       `json:"reimport_warn_days"`

	checkIns []checkInRecord
	folders  []CeremonyRecord // every verified folder read
}

// checkInRecord is one custodian's check-in, as a verified check-in folder records it.
type checkInRecord struct {
	SetID, Custodian, Ceremony, Dir string
	Index, IntervalDays             int
	Time                            time.Time
	Verified                        bool
}

// Inventory finds every ceremony folder under roots (folders holding a transcript), verifies
// each one, and returns one record per key that the verified folders record, oldest first.
func Inventory(roots ...string) (*InventoryReport, error) { return InventoryWith(nil, roots...) }

// InventoryWith is Inventory where a check-in counts only when cosigned says it holds: a
// check-in is signed by a key made for it alone, so its witnesses' cosignatures are what tie
// it to the people in the room (docs/lifecycle.md). A check-in folder cosigned refuses is
// listed with the folders that did not verify, with its reason.
func InventoryWith(cosigned func(dir string, r transcript.Report) error, roots ...string) (*InventoryReport, error) {
	var dirs []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == transcript.TranscriptFile {
				dirs = append(dirs, filepath.Dir(path))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("inventory: %v", err)
		}
	}
	inv := &InventoryReport{Keys: []*KeyRecord{}, Unverified: []CeremonyRecord{}} // [] in JSON, never null
	keys := map[string]*KeyRecord{}
	var sets []*BackupRecord
	setKeys := map[string][]*KeyRecord{}
	setExceptions := map[string][]ExceptionEntry{}
	var rotations []rotation
	for _, dir := range dirs {
		r := transcript.Verify(dir)
		if !r.OK {
			inv.Unverified = append(inv.Unverified, CeremonyRecord{Dir: dir, Problem: r.Problem})
			continue
		}
		if cosigned != nil && isCheckIn(r) {
			if err := cosigned(dir, r); err != nil {
				inv.Unverified = append(inv.Unverified, CeremonyRecord{Dir: dir, Problem: "check-in not counted: " + err.Error()})
				continue
			}
		}
		rc := readCeremony(dir, r, keys, &sets, setKeys)
		inv.folders = append(inv.folders, rc.record)
		inv.checkIns = append(inv.checkIns, rc.checkIns...)
		rotations = append(rotations, rc.rotations...)
		if rc.checkInSet != "" {
			setExceptions[rc.checkInSet] = append(setExceptions[rc.checkInSet], rc.exceptions...)
			if ks := setKeys[rc.checkInSet]; ks != nil {
				for _, k := range ks {
					k.Ceremonies = append(k.Ceremonies, rc.record)
				}
			} else {
				inv.Orphans = append(inv.Orphans, fmt.Sprintf("%s: check-in of set %s, which no verified folder given seals", dir, rc.checkInSet))
			}
		}
	}
	// A re-share names the set it replaces; follow the chain to the set custodians hold now.
	replacedBy := map[string]*BackupRecord{}
	for _, s := range sets {
		if s.Replaces != "" {
			replacedBy[s.Replaces] = s
		}
	}
	for _, k := range keys {
		for seen := 0; k.Backup != nil && replacedBy[k.Backup.SetID] != nil && seen < len(sets); seen++ {
			k.Backup = replacedBy[k.Backup.SetID]
		}
		for _, s := range sets {
			if !slices.Contains(setKeys[s.SetID], k) {
				continue
			}
			if s != k.Backup {
				k.Superseded = append(k.Superseded, s)
			}
			k.Exceptions = append(k.Exceptions, setExceptions[s.SetID]...)
		}
		slices.SortFunc(k.Ceremonies, func(a, b CeremonyRecord) int { return a.Time.Compare(b.Time) })
		slices.SortFunc(k.Exceptions, func(a, b ExceptionEntry) int { return a.Time.Compare(b.Time) })
		inv.Keys = append(inv.Keys, k)
	}
	for _, r := range rotations {
		r.apply(keys)
	}
	slices.SortFunc(inv.Orphans, strings.Compare)
	slices.SortFunc(inv.Keys, func(a, b *KeyRecord) int { return cmp.Or(a.Made.Compare(b.Made), strings.Compare(a.Label, b.Label)) })
	return inv, nil
}

// rotation is a verified rotation's generate-key event: the new key and the one it replaces.
type rotation struct {
	newKey   *KeyRecord
	old      *RotatedKeyFacts
	ceremony string
	time     time.Time
}

// apply links the two keys: the new one says what it rotates; the old one, when a verified folder
// given records it, what rotated it.
func (r rotation) apply(keys map[string]*KeyRecord) {
	r.newKey.Rotates = &RotationLink{Label: r.old.Label, KCV: r.old.KCV, Fingerprint: r.old.Fingerprint, Ceremony: r.old.Ceremony, Time: r.old.Made}
	if old := keys[keyID(r.old.Label, r.old.KCV, r.old.Fingerprint)]; old != nil {
		old.RotatedBy = &RotationLink{Label: r.newKey.Label, KCV: r.newKey.KCV, Fingerprint: r.newKey.Fingerprint, Ceremony: r.ceremony, Time: r.time}
	}
}

// isCheckIn says whether the verified folder of r is a check-in, from its begin event.
func isCheckIn(r transcript.Report) bool {
	var begin struct{ Ceremony BeginFacts }
	return json.Unmarshal(r.Chain[0].Facts, &begin) == nil && begin.Ceremony.Kind == KindCheckIn
}

// readCeremony is what one verified folder adds to the inventory.
type readCeremonyResult struct {
	record     CeremonyRecord
	checkInSet string // the set a check-in folder is for; "" for other folders
	checkIns   []checkInRecord
	exceptions []ExceptionEntry
	rotations  []rotation
}

// readCeremony adds what the verified folder dir records to keys and sets, from the events
// that verified (never from the files as they are now); setKeys learns which keys each set
// backs up. A check-in folder adds its check-ins and exceptions to the result instead. In a
// ceremony of several keys, wraps and checks name their key and a shared set lists its keys;
// without those names (a ceremony of one key) they belong to the key the ceremony made last.
func readCeremony(dir string, r transcript.Report, keys map[string]*KeyRecord, sets *[]*BackupRecord, setKeys map[string][]*KeyRecord) readCeremonyResult {
	events := r.Chain
	rec := CeremonyRecord{Dir: dir, Time: events[0].Time, Headless: transcript.Headless(events), SigningKey: r.Fingerprint}
	rec.CheckpointSHA256 = sealedCheckpointSHA256(dir, r)
	var begin struct{ Ceremony BeginFacts }
	json.Unmarshal(events[0].Facts, &begin)
	rec.ID, rec.Kind = begin.Ceremony.Ceremony, begin.Ceremony.Kind
	res := readCeremonyResult{}

	var key *KeyRecord                 // the key made, found or restored last
	byLabel := map[string]*KeyRecord{} // this ceremony's keys
	var touched []*KeyRecord           // every key this ceremony records, in order
	touch := func(k *KeyRecord) *KeyRecord {
		if !slices.Contains(touched, k) {
			touched = append(touched, k)
		}
		byLabel[k.Label] = k
		return k
	}
	keyOf := func(label string) *KeyRecord {
		if label == "" {
			return key
		}
		return byLabel[label]
	}
	validTo := map[string]time.Time{} // by key label and target
	interval := 0
	for _, ev := range events {
		if ev.Kind == transcript.KindException {
			var f ExceptionFacts
			json.Unmarshal(ev.Facts, &f)
			res.exceptions = append(res.exceptions, ExceptionEntry{Time: ev.Time, Ceremony: rec.ID, Step: ev.Step, Exception: f.Exception})
			continue
		}
		facts := StepFacts(ev.Step)
		if ev.Kind != transcript.KindStep || facts == nil || json.Unmarshal(ev.Facts, facts) != nil {
			continue
		}
		switch f := facts.(type) {
		case *KeyFacts:
			key = touch(keyRecord(keys, f.Label, f.Spec, f.KCV, f.Fingerprint, ev.Time))
			if ev.Step != stepFindKey && ev.Time.Before(key.Made) {
				key.Made = ev.Time
			}
			if f.Rotates != nil {
				res.rotations = append(res.rotations, rotation{newKey: key, old: f.Rotates, ceremony: rec.ID, time: ev.Time})
			}
		case *CheckWrappingKeyFacts:
			validTo[f.Key+"/"+f.Target] = f.ParametersValidTo
		case *BackupFacts:
			s := &BackupRecord{SetID: f.SetID, Threshold: f.Threshold, Custodians: f.Custodians, Replaces: f.Replaces, Time: ev.Time, Dir: dir}
			*sets = append(*sets, s)
			var backedUp []*KeyRecord
			switch {
			case len(f.Keys) > 0: // a shared set names each of its keys
				for _, k := range f.Keys {
					backedUp = append(backedUp, touch(keyRecord(keys, k.Label, k.Spec, k.KCV, k.Fingerprint, ev.Time)))
				}
			case byLabel[f.Label] != nil: // a set of one key, made or restored here
				backedUp = []*KeyRecord{byLabel[f.Label]}
			case key == nil && f.Label != "": // a re-share names the key it backs up
				key = touch(keyRecord(keys, f.Label, f.Spec, f.KCV, f.Fingerprint, ev.Time))
				backedUp = []*KeyRecord{key}
			case key != nil:
				backedUp = []*KeyRecord{key}
			}
			for _, k := range backedUp {
				setKeys[f.SetID] = append(setKeys[f.SetID], k)
				if k.Backup == nil || k.Backup.Time.Before(s.Time) {
					k.Backup = s
				}
			}
		case *WrapFacts:
			k := keyOf(f.Key)
			if k == nil {
				continue
			}
			pkg := path.Join("targets", f.Key, f.Target)
			t := TargetRecord{Name: f.Target, Profile: f.Profile, Strategy: f.Strategy, Package: filepath.Join(dir, filepath.FromSlash(pkg)),
				ParametersValidTo: validTo[f.Key+"/"+f.Target], Wrapped: ev.Time, Ceremony: rec.ID}
			if f.NewVersion != nil {
				t.NewVersion = f.NewVersion.Path
			}
			readPackageManifest(&t, dir, ev)
			checkReceipts(&t, dir, ev, r.Receipts)
			k.Targets = append(k.Targets, t)
		case *CustodyFacts:
			labels := f.TargetLabels
			if f.TargetLabel != "" {
				labels = []string{f.TargetLabel}
			}
			for _, l := range labels {
				if k := keyOf(l); k != nil && strings.HasPrefix(f.Target, "kept") {
					k.inToken(begin.Ceremony.Token, f.Target, rec, ev.Time)
				}
			}
		case *DestroyFacts:
			if k := keyOf(f.Label); k != nil && strings.HasPrefix(ev.Step, stepDestroy+":target") {
				k.inToken(begin.Ceremony.Token, "destroyed", rec, ev.Time)
			}
		case *CheckInSetFacts:
			res.checkInSet, interval = f.SetID, f.IntervalDays
		case *CheckInFacts:
			res.checkIns = append(res.checkIns, checkInRecord{SetID: f.SetID, Custodian: f.Custodian, Ceremony: rec.ID, Dir: dir,
				Index: f.Index, IntervalDays: interval, Time: ev.Time, Verified: f.ShareVerified && f.Present})
		}
	}
	for _, k := range touched {
		k.Ceremonies = append(k.Ceremonies, rec)
		k.Exceptions = append(k.Exceptions, res.exceptions...)
	}
	res.record = rec
	return res
}

// sealedCheckpointSHA256 is the hex SHA-256 of the checkpoint of the verified folder dir as its
// seal wrote it, which the witnesses copied onto the paper log: its note text and the first
// signature line, the ceremony key's (cosigning appends its lines after it). "" when the file
// does not start with the note text that verified.
func sealedCheckpointSHA256(dir string, r transcript.Report) string {
	data, err := transcript.ReadFile(dir, transcript.CheckpointFile)
	rest, ok := strings.CutPrefix(string(data), r.Checkpoint+"\n")
	if err != nil || r.Checkpoint == "" || !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "\n")
	return sha256Hex([]byte(r.Checkpoint + "\n" + first + "\n"))
}

// readPackageManifest reads what the package manifest the wrap event ev signed says of the
// AWS key and its material's expiry. The bytes read are used only when their SHA-256 is the
// one ev recorded.
func readPackageManifest(t *TargetRecord, dir string, ev transcript.Event) {
	for _, f := range ev.Files {
		if path.Base(f.Path) != wrap.ManifestName {
			continue
		}
		data, err := transcript.ReadFile(dir, f.Path)
		if err != nil || sha256Hex(data) != f.SHA256 {
			return
		}
		var m wrap.Manifest
		if json.Unmarshal(data, &m) != nil {
			return
		}
		t.manifest, t.manifestSHA256 = &m, f.SHA256
		if m.AWS == nil {
			return
		}
		t.KMSKeyID = m.AWS.KeyID
		if m.AWS.ValidTo != nil {
			t.MaterialValidTo = m.AWS.ValidTo.UTC()
		}
	}
}

// keyID tells keys apart in the inventory: by label and check value or fingerprint.
func keyID(label, kcv, fingerprint string) string { return label + "/" + kcv + fingerprint }

// keyRecord finds or starts the record of the key an event names.
func keyRecord(keys map[string]*KeyRecord, label, spec, kcv, fingerprint string, when time.Time) *KeyRecord {
	id := keyID(label, kcv, fingerprint)
	if keys[id] == nil {
		keys[id] = &KeyRecord{Label: label, Spec: spec, KCV: kcv, Fingerprint: fingerprint, Made: when,
			Superseded: []*BackupRecord{}, Targets: []TargetRecord{}, Tokens: []TokenRecord{}, Exceptions: []ExceptionEntry{}}
	}
	return keys[id]
}

// receipt is what the inventory reads of an upload receipt (upload.Receipt writes it).
type receipt struct {
	Time  time.Time         `json:"time"`
	Files map[string]string `json:"files"` // SHA-256 (hex) of the files sent and of manifest.json
	KMS   struct {
		KeyState string `json:"key_state"`
	} `json:"kms"`
}

// parseReceipt parses an upload receipt, which must at least say when, and for which manifest.
func parseReceipt(data []byte) (receipt, error) {
	var r receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("not an upload receipt: %v", err)
	}
	if r.Time.IsZero() || r.Files[wrap.ManifestName] == "" {
		return r, fmt.Errorf("not an upload receipt: it names no time or no %s SHA-256", wrap.ManifestName)
	}
	return r, nil
}

// checkReceipts reads the receipts that verification listed in the package folder of the wrap
// event ev, and takes the latest one naming the manifest.json SHA-256 that ev signed as the
// upload; the others are listed as unverified, with why.
func checkReceipts(t *TargetRecord, dir string, ev transcript.Event, receipts []string) {
	var signed, pkg string
	for _, f := range ev.Files {
		if path.Base(f.Path) == wrap.ManifestName {
			signed, pkg = f.SHA256, path.Dir(f.Path)
		}
	}
	for _, p := range receipts {
		if pkg == "" || path.Dir(p) != pkg {
			continue
		}
		data, err := transcript.ReadFile(dir, p)
		if err != nil {
			t.Unverified = append(t.Unverified, fmt.Sprintf("%s (cannot be read: %v)", p, err))
			continue
		}
		r, err := parseReceipt(data)
		switch {
		case err != nil:
			t.Unverified = append(t.Unverified, fmt.Sprintf("%s (%v)", p, err))
		case r.Files[wrap.ManifestName] != signed:
			t.Unverified = append(t.Unverified, fmt.Sprintf("%s (its %s SHA-256 is not the signed package's)", p, wrap.ManifestName))
		case r.Time.After(t.Uploaded):
			t.Uploaded, t.KeyState = r.Time, r.KMS.KeyState
		}
	}
}

// Policy is what the inventory judges against.
type Policy struct {
	Now         time.Time
	RotateAfter int // days after a key is made that it is due for rotation
	// CheckInInterval is how often, in days, each holder should prove their share, for sets
	// whose check-ins never set one.
	CheckInInterval int
	// ReimportWarn is how many days before AWS key material expires its re-import is due.
	ReimportWarn int
}

// Assess fills the report's judgements at p.Now: each key's age and rotation, each target's
// re-import, each holder of the current set's last proof of their share and whether they are
// overdue, and whether the set's quorum is at risk (fewer holders proved within the interval
// than the threshold).
func (inv *InventoryReport) Assess(p Policy) {
	inv.Now, inv.RotateAfterDays, inv.CheckInIntervalDays, inv.ReimportWarnDays = p.Now.UTC(), p.RotateAfter, p.CheckInInterval, p.ReimportWarn
	for _, k := range inv.Keys {
		k.AgeDays = int(p.Now.Sub(k.Made).Hours() / 24)
		k.RotationDue = k.Made.AddDate(0, 0, p.RotateAfter).UTC()
		k.RotationOverdue = k.RotatedBy == nil && !p.Now.Before(k.RotationDue)
		k.Due = k.RotationOverdue
		for i := range k.Targets {
			t := &k.Targets[i]
			for _, later := range k.Targets {
				if t.KMSKeyID != "" && later.KMSKeyID == t.KMSKeyID && later.Wrapped.After(t.Wrapped) {
					t.ReplacedBy = later.Ceremony
				}
			}
			t.ReimportDue = t.ReplacedBy == "" && !t.MaterialValidTo.IsZero() && !p.Now.Before(t.MaterialValidTo.AddDate(0, 0, -p.ReimportWarn))
			k.Due = k.Due || t.ReimportDue
		}
		if b := k.Backup; b != nil {
			b.Custody = inv.custody(b, p)
			k.AtRisk = b.Custody.QuorumAtRisk
			for _, h := range b.Custody.Holders {
				k.Due = k.Due || h.Overdue
			}
		}
	}
}

func (inv *InventoryReport) custody(b *BackupRecord, p Policy) *Custody {
	cu := &Custody{IntervalDays: p.CheckInInterval}
	var latest time.Time
	for _, c := range inv.checkIns {
		if c.SetID == b.SetID && c.IntervalDays > 0 && !c.Time.Before(latest) {
			latest, cu.IntervalDays = c.Time, c.IntervalDays
		}
	}
	for i, name := range b.Custodians {
		h := HolderRecord{Name: name, Index: i + 1, LastVerified: b.Time, VerifiedBy: "sealed"}
		for _, c := range inv.checkIns {
			if c.SetID == b.SetID && c.Index == i+1 && c.Verified && c.Time.After(h.LastVerified) {
				h.LastVerified, h.VerifiedBy = c.Time, "check-in "+c.Ceremony
			}
		}
		h.NextDue = h.LastVerified.AddDate(0, 0, cu.IntervalDays).UTC()
		h.Overdue = !p.Now.Before(h.NextDue)
		if !h.Overdue {
			cu.VerifiedWithin++
		}
		cu.Holders = append(cu.Holders, h)
	}
	cu.QuorumAtRisk = cu.VerifiedWithin < b.Threshold
	return cu
}

// Failures lists what the report flags among kinds ("due", "at-risk"), one line each, for
// `inventory --fail-on`.
func (inv *InventoryReport) Failures(kinds []string) []string {
	var out []string
	for _, k := range inv.Keys {
		if slices.Contains(kinds, "due") {
			if k.RotationOverdue {
				out = append(out, fmt.Sprintf("key %s: rotation due since %s", k.Label, day(k.RotationDue)))
			}
			for _, t := range k.Targets {
				if t.ReimportDue {
					out = append(out, fmt.Sprintf("key %s: target %s: re-import due before %s", k.Label, t.Name, day(t.MaterialValidTo)))
				}
			}
			if k.Backup != nil {
				for _, h := range k.Backup.Custody.Holders {
					if h.Overdue {
						out = append(out, fmt.Sprintf("key %s: set %s: %s's check-in due since %s", k.Label, k.Backup.SetID, h.Name, day(h.NextDue)))
					}
				}
			}
		}
		if slices.Contains(kinds, "at-risk") && k.AtRisk {
			out = append(out, fmt.Sprintf("key %s: set %s: quorum at risk, %d of %d holders verified within %d days, %d needed", k.Label, k.Backup.SetID, k.Backup.Custody.VerifiedWithin, len(k.Backup.Custody.Holders), k.Backup.Custody.IntervalDays, k.Backup.Threshold))
		}
	}
	return out
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// linkName names the key at the other end of a rotation: "LABEL (KCV X)" or "LABEL (SHA256:...)".
func linkName(r *RotationLink) string {
	if r.KCV != "" {
		return fmt.Sprintf("%s (KCV %s)", r.Label, r.KCV)
	}
	return fmt.Sprintf("%s (%s)", r.Label, r.Fingerprint)
}

// WriteInventoryJSON writes the assessed report as JSON (the schema in docs/lifecycle.md).
func WriteInventoryJSON(w io.Writer, inv *InventoryReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

// WriteInventory prints the assessed report for a person: each key, its backup and holders,
// its targets, what is due, its exceptions and ceremonies; then the folders that did not verify.
func WriteInventory(w io.Writer, inv *InventoryReport) {
	now := inv.Now
	ago := func(t time.Time) string { return fmt.Sprintf("%d days", int(now.Sub(t).Hours()/24)) }
	in := func(t time.Time) string { return fmt.Sprintf("%d days", int(math.Ceil(t.Sub(now).Hours()/24))) }
	if len(inv.Keys) == 0 && len(inv.Unverified) == 0 {
		fmt.Fprintln(w, "no ceremony transcripts found")
		return
	}
	for _, k := range inv.Keys {
		id := "kcv " + k.KCV
		if k.KCV == "" {
			id = k.Fingerprint
		}
		fmt.Fprintf(w, "key %s  %s  %s\n", k.Label, k.Spec, id)
		fmt.Fprintf(w, "  made      %s (%s ago)\n", day(k.Made), ago(k.Made))
		if r := k.Rotates; r != nil {
			fmt.Fprintf(w, "  rotates   %s from %s\n", linkName(r), r.Ceremony)
		}
		switch {
		case k.RotatedBy != nil:
			r := k.RotatedBy
			fmt.Fprintf(w, "  rotation  rotated by %s on %s into %s: no longer due; keep it for decrypting old data\n", r.Ceremony, day(r.Time), linkName(r))
		case k.RotationOverdue:
			fmt.Fprintf(w, "  rotation  OVERDUE since %s: make a new key and retire this one\n", day(k.RotationDue))
		default:
			fmt.Fprintf(w, "  rotation  due %s (in %s)\n", day(k.RotationDue), in(k.RotationDue))
		}
		if b := k.Backup; b != nil {
			fmt.Fprintf(w, "  backup    set %s, %d of %d: %s (sealed %s)\n", b.SetID, b.Threshold, len(b.Custodians), strings.Join(b.Custodians, ", "), day(b.Time))
			if k.RotatedBy != nil {
				fmt.Fprintln(w, "            stays valid for decrypting old data: the rotation does not supersede it")
			}
			cu := b.Custody
			for _, h := range cu.Holders {
				by := "when the set was sealed"
				if h.VerifiedBy != "sealed" {
					by = "at " + h.VerifiedBy
				}
				state := fmt.Sprintf("next check-in due %s", day(h.NextDue))
				if h.Overdue {
					state = fmt.Sprintf("OVERDUE since %s", day(h.NextDue))
				}
				fmt.Fprintf(w, "  holder    %s (share %d): share verified %s %s; %s\n", h.Name, h.Index, day(h.LastVerified), by, state)
			}
			risk := ""
			if cu.QuorumAtRisk {
				risk = "AT RISK: "
			}
			fmt.Fprintf(w, "  quorum    %s%d of %d holders verified within %d days, %d needed\n", risk, cu.VerifiedWithin, len(cu.Holders), cu.IntervalDays, b.Threshold)
		} else {
			fmt.Fprintln(w, "  backup    NONE recorded: if the HSM is lost, so is this key")
		}
		for _, t := range k.Tokens {
			fmt.Fprintf(w, "  in token  %s in token %q (serial %s) by %s (%s)\n", t.State, t.Token, t.Serial, t.Ceremony, day(t.Time))
		}
		for _, s := range k.Superseded {
			fmt.Fprintf(w, "  superseded set %s, %d of %d: %s (sealed %s): keep no share of it\n", s.SetID, s.Threshold, len(s.Custodians), strings.Join(s.Custodians, ", "), day(s.Time))
		}
		for _, t := range k.Targets {
			status := "not uploaded (no receipt beside the package)"
			if t.Profile != wrap.ProfileAWS {
				status = "imported with the cloud's own CLI, which leaves no receipt here"
			}
			if !t.Uploaded.IsZero() {
				status = fmt.Sprintf("uploaded %s, key %s (the receipt matches the signed package, not signed itself)", day(t.Uploaded), t.KeyState)
			}
			fmt.Fprintf(w, "  target    %s (%s, %s): %s\n", t.Name, wrap.CloudName(t.Profile), t.Strategy, status)
			if t.NewVersion != "" {
				fmt.Fprintf(w, "            a new version of the rotated key's cloud key (%s)\n", t.NewVersion)
			}
			switch {
			case t.ReplacedBy != "":
				fmt.Fprintf(w, "            re-imported by ceremony %s: this package's expiry no longer counts\n", t.ReplacedBy)
			case t.MaterialValidTo.IsZero():
			case t.ReimportDue:
				fmt.Fprintf(w, "            RE-IMPORT DUE: the key material expires %s; run a rewrap ceremony for fresh import parameters of %s\n", day(t.MaterialValidTo), t.KMSKeyID)
			default:
				fmt.Fprintf(w, "            re-import due %s (the key material expires then)\n", day(t.MaterialValidTo))
			}
			for _, u := range t.Unverified {
				fmt.Fprintf(w, "            unverified receipt: %s\n", u)
			}
		}
		for _, e := range k.Exceptions {
			fmt.Fprintf(w, "  exception %s %s %s: %s\n", day(e.Time), e.Ceremony, e.Step, e.Exception)
		}
		for _, c := range k.Ceremonies {
			fmt.Fprintf(w, "  ceremony  %s %s %s (%s) verified\n", day(c.Time), c.Kind, c.ID, c.Dir)
			if c.Kind == KindCheckIn {
				fmt.Fprintf(w, "            signed by a key made for it alone: compare %s with the paper log\n", c.SigningKey)
			}
			if c.Headless {
				fmt.Fprintf(w, "            %s\n", transcript.HeadlessNote)
			}
		}
		fmt.Fprintln(w)
	}
	for _, o := range inv.Orphans {
		fmt.Fprintf(w, "not counted: %s\n", o)
	}
	if len(inv.Unverified) > 0 {
		fmt.Fprintln(w, "NOT VERIFIED: nothing above comes from these folders; their facts are not proven")
		for _, c := range inv.Unverified {
			fmt.Fprintf(w, "  %s: %s\n", c.Dir, c.Problem)
		}
	}
}
