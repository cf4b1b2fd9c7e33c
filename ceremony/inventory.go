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
// value or fingerprint, never by their value.
type KeyRecord struct {
	Label, Spec, KCV, Fingerprint string
	Made                          time.Time // the first ceremony that made or restored it
	Ceremonies                    []CeremonyRecord
	Backup                        *BackupRecord // the latest share set that no later set replaces
	Targets                       []TargetRecord
}

// CeremonyRecord is one ceremony folder: a verified one, or one that did not verify and why.
type CeremonyRecord struct {
	Dir, ID, Kind string
	Time          time.Time
	Problem       string // why it did not verify; "" when it did
	Headless      bool   // it ran headless: no person confirmed its checks
}

// BackupRecord is a sealed share set.
type BackupRecord struct {
	SetID      string
	Threshold  int
	Custodians []string
	Replaces   string
	Time       time.Time
}

// TargetRecord is an import package made for the key and what the receipts beside it say.
// Receipts are written on the connected side and signed by nobody: one counts as an upload only
// when the manifest.json SHA-256 it names is the one the signed wrap event recorded, and even
// then it is the receipt's word, not a signed fact.
type TargetRecord struct {
	Name, Profile, Strategy, Package string
	ParametersValidTo                time.Time
	Uploaded                         time.Time // from the latest matching receipt; zero when none
	KeyState                         string
	Unverified                       []string // receipts that do not match the signed package, and why
}

// InventoryReport is what the inventory found: the keys that verified folders record, and the
// folders that did not verify, whose facts are not used at all.
type InventoryReport struct {
	Keys       []*KeyRecord
	Unverified []CeremonyRecord
}

// Inventory finds every ceremony folder under roots (folders holding a transcript), verifies
// each one, and returns one record per key that the verified folders record, oldest first.
func Inventory(roots ...string) (*InventoryReport, error) {
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
	inv := &InventoryReport{}
	keys := map[string]*KeyRecord{}
	var sets []*BackupRecord
	for _, dir := range dirs {
		r := transcript.Verify(dir)
		if !r.OK {
			inv.Unverified = append(inv.Unverified, CeremonyRecord{Dir: dir, Problem: r.Problem})
			continue
		}
		readCeremony(dir, r, keys, &sets)
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
		slices.SortFunc(k.Ceremonies, func(a, b CeremonyRecord) int { return a.Time.Compare(b.Time) })
		inv.Keys = append(inv.Keys, k)
	}
	slices.SortFunc(inv.Keys, func(a, b *KeyRecord) int { return cmp.Or(a.Made.Compare(b.Made), strings.Compare(a.Label, b.Label)) })
	return inv, nil
}

// readCeremony adds what the verified folder dir records to keys and sets, from the events
// that verified (never from the files as they are now).
func readCeremony(dir string, r transcript.Report, keys map[string]*KeyRecord, sets *[]*BackupRecord) {
	events := r.Chain
	rec := CeremonyRecord{Dir: dir, Time: events[0].Time, Headless: transcript.Headless(events)}
	var begin struct{ Ceremony BeginFacts }
	json.Unmarshal(events[0].Facts, &begin)
	rec.ID, rec.Kind = begin.Ceremony.Ceremony, begin.Ceremony.Kind

	var key *KeyRecord
	validTo := map[string]time.Time{}
	for _, ev := range events {
		facts := StepFacts(ev.Step)
		if ev.Kind != transcript.KindStep || facts == nil || json.Unmarshal(ev.Facts, facts) != nil {
			continue
		}
		switch f := facts.(type) {
		case *KeyFacts:
			key = keyRecord(keys, f.Label, f.Spec, f.KCV, f.Fingerprint, ev.Time)
			if ev.Step != stepFindKey && ev.Time.Before(key.Made) {
				key.Made = ev.Time
			}
		case *CheckWrappingKeyFacts:
			validTo[f.Target] = f.ParametersValidTo
		case *BackupFacts:
			if key == nil && f.Label != "" { // a re-share names the key it backs up
				key = keyRecord(keys, f.Label, f.Spec, f.KCV, f.Fingerprint, ev.Time)
			}
			s := &BackupRecord{SetID: f.SetID, Threshold: f.Threshold, Custodians: f.Custodians, Replaces: f.Replaces, Time: ev.Time}
			*sets = append(*sets, s)
			if key != nil && (key.Backup == nil || key.Backup.Time.Before(s.Time)) {
				key.Backup = s
			}
		case *WrapFacts:
			if key == nil {
				continue
			}
			t := TargetRecord{Name: f.Target, Profile: f.Profile, Strategy: f.Strategy, Package: filepath.Join(dir, "targets", f.Target), ParametersValidTo: validTo[f.Target]}
			checkReceipts(&t, dir, ev, r.Receipts)
			key.Targets = append(key.Targets, t)
		}
	}
	if key != nil {
		key.Ceremonies = append(key.Ceremonies, rec)
	}
}

// keyRecord finds or starts the record of the key an event names.
func keyRecord(keys map[string]*KeyRecord, label, spec, kcv, fingerprint string, when time.Time) *KeyRecord {
	id := label + "/" + kcv + fingerprint
	if keys[id] == nil {
		keys[id] = &KeyRecord{Label: label, Spec: spec, KCV: kcv, Fingerprint: fingerprint, Made: when}
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

// WriteInventory prints the report for a person: each key, its backup, its targets, and whether
// it is due for rotation (rotateAfter after it was made); then the folders that did not verify.
func WriteInventory(w io.Writer, inv *InventoryReport, now time.Time, rotateAfter time.Duration) {
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	ago := func(t time.Time) string { return fmt.Sprintf("%d days", int(now.Sub(t).Hours()/24)) }
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
		due := k.Made.Add(rotateAfter)
		if now.After(due) {
			fmt.Fprintf(w, "  rotation  OVERDUE since %s: make a new key and retire this one\n", day(due))
		} else {
			fmt.Fprintf(w, "  rotation  due %s (in %d days)\n", day(due), int(math.Ceil(due.Sub(now).Hours()/24)))
		}
		if b := k.Backup; b != nil {
			fmt.Fprintf(w, "  backup    set %s, %d of %d: %s (sealed %s)\n", b.SetID, b.Threshold, len(b.Custodians), strings.Join(b.Custodians, ", "), day(b.Time))
		} else {
			fmt.Fprintln(w, "  backup    NONE recorded: if the HSM is lost, so is this key")
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
			for _, u := range t.Unverified {
				fmt.Fprintf(w, "            unverified receipt: %s\n", u)
			}
		}
		for _, c := range k.Ceremonies {
			fmt.Fprintf(w, "  ceremony  %s %s %s (%s) verified\n", day(c.Time), c.Kind, c.ID, c.Dir)
			if c.Headless {
				fmt.Fprintf(w, "            %s\n", transcript.HeadlessNote)
			}
		}
		fmt.Fprintln(w)
	}
	if len(inv.Unverified) > 0 {
		fmt.Fprintln(w, "NOT VERIFIED: nothing above comes from these folders; their facts are not proven")
		for _, c := range inv.Unverified {
			fmt.Fprintf(w, "  %s: %s\n", c.Dir, c.Problem)
		}
	}
}
