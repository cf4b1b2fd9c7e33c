package ceremony

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
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

// CeremonyRecord is one ceremony folder and whether it verified.
type CeremonyRecord struct {
	Dir, ID, Kind string
	Time          time.Time
	Verified      bool
	Problem       string // why it did not verify
}

// BackupRecord is a sealed share set.
type BackupRecord struct {
	SetID      string
	Threshold  int
	Custodians []string
	Replaces   string
	Time       time.Time
}

// TargetRecord is an import package made for the key and, when uploaded, its latest receipt.
type TargetRecord struct {
	Name, Profile, Strategy, Package string
	ParametersValidTo                time.Time
	Uploaded                         time.Time // zero when no upload receipt is beside the package
	KeyState                         string
}

// Inventory reads every ceremony folder under roots (folders holding a transcript) and returns
// one record per key, oldest first.
func Inventory(roots ...string) ([]*KeyRecord, error) {
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
	keys := map[string]*KeyRecord{}
	var sets []*BackupRecord
	for _, dir := range dirs {
		if err := readCeremony(dir, keys, &sets); err != nil {
			return nil, err
		}
	}
	// A re-share names the set it replaces; follow the chain to the set custodians hold now.
	replacedBy := map[string]*BackupRecord{}
	for _, s := range sets {
		if s.Replaces != "" {
			replacedBy[s.Replaces] = s
		}
	}
	var out []*KeyRecord
	for _, k := range keys {
		for seen := 0; k.Backup != nil && replacedBy[k.Backup.SetID] != nil && seen < len(sets); seen++ {
			k.Backup = replacedBy[k.Backup.SetID]
		}
		slices.SortFunc(k.Ceremonies, func(a, b CeremonyRecord) int { return a.Time.Compare(b.Time) })
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *KeyRecord) int { return cmp.Or(a.Made.Compare(b.Made), strings.Compare(a.Label, b.Label)) })
	return out, nil
}

// stepFacts are the facts the inventory reads, from whichever event has them.
type stepFacts struct {
	Label, Spec, KCV, Fingerprint string
	Target, Profile, Strategy     string
	ParametersValidTo             time.Time `json:"parameters_valid_to"`
	SetID                         string    `json:"set_id"`
	Threshold                     int
	Custodians                    []string
	Replaces                      string
	Kind, Ceremony                string
}

func readCeremony(dir string, keys map[string]*KeyRecord, sets *[]*BackupRecord) error {
	events, err := transcript.Read(dir)
	if err != nil {
		return fmt.Errorf("inventory: %s: %w", dir, err)
	}
	if len(events) == 0 {
		return nil
	}
	report := transcript.Verify(dir)
	rec := CeremonyRecord{Dir: dir, Time: events[0].Time, Verified: report.OK, Problem: report.Problem}
	var begin struct{ Ceremony stepFacts }
	json.Unmarshal(events[0].Facts, &begin)
	rec.ID, rec.Kind = begin.Ceremony.Ceremony, begin.Ceremony.Kind

	var key *KeyRecord
	validTo := map[string]time.Time{}
	for _, ev := range events {
		if ev.Kind != transcript.KindStep {
			continue
		}
		var f stepFacts
		if err := json.Unmarshal(ev.Facts, &f); err != nil {
			continue
		}
		step, _, _ := strings.Cut(ev.Step, ":")
		switch step {
		case stepGenerateKey, stepFindKey, stepRestoreKey:
			key = keyRecord(keys, f, ev.Time)
			if step != stepFindKey && ev.Time.Before(key.Made) {
				key.Made = ev.Time
			}
		case stepCheckWrapKey:
			validTo[f.Target] = f.ParametersValidTo
		case stepBackup:
			if key == nil && f.Label != "" { // a re-share names the key it backs up
				key = keyRecord(keys, f, ev.Time)
			}
			s := &BackupRecord{SetID: f.SetID, Threshold: f.Threshold, Custodians: f.Custodians, Replaces: f.Replaces, Time: ev.Time}
			*sets = append(*sets, s)
			if key != nil && (key.Backup == nil || key.Backup.Time.Before(s.Time)) {
				key.Backup = s
			}
		case stepWrap:
			if key == nil {
				continue
			}
			t := TargetRecord{Name: f.Target, Profile: f.Profile, Strategy: f.Strategy, Package: filepath.Join(dir, "targets", f.Target), ParametersValidTo: validTo[f.Target]}
			t.Uploaded, t.KeyState = latestReceipt(t.Package)
			key.Targets = append(key.Targets, t)
		}
	}
	if key != nil {
		key.Ceremonies = append(key.Ceremonies, rec)
	}
	return nil
}

// keyRecord finds or starts the record of the key an event names.
func keyRecord(keys map[string]*KeyRecord, f stepFacts, when time.Time) *KeyRecord {
	id := f.Label + "/" + f.KCV + f.Fingerprint
	if keys[id] == nil {
		keys[id] = &KeyRecord{Label: f.Label, Spec: f.Spec, KCV: f.KCV, Fingerprint: f.Fingerprint, Made: when}
	}
	return keys[id]
}

// latestReceipt reads the newest upload receipt beside an import package, if any.
func latestReceipt(pkg string) (time.Time, string) {
	paths, _ := filepath.Glob(filepath.Join(pkg, "upload-receipt*.json"))
	var when time.Time
	var state string
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var r struct {
			Time time.Time
			KMS  struct {
				KeyState string `json:"key_state"`
			}
		}
		if json.Unmarshal(raw, &r) == nil && r.Time.After(when) {
			when, state = r.Time, r.KMS.KeyState
		}
	}
	return when, state
}

// WriteInventory prints the records for a person: each key, its backup, its targets, and whether
// it is due for rotation (rotateAfter after it was made).
func WriteInventory(w io.Writer, keys []*KeyRecord, now time.Time, rotateAfter time.Duration) {
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	ago := func(t time.Time) string { return fmt.Sprintf("%d days", int(now.Sub(t).Hours()/24)) }
	if len(keys) == 0 {
		fmt.Fprintln(w, "no ceremony transcripts found")
		return
	}
	for _, k := range keys {
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
				status = fmt.Sprintf("uploaded %s, key %s", day(t.Uploaded), t.KeyState)
			}
			fmt.Fprintf(w, "  target    %s (%s, %s): %s\n", t.Name, wrap.CloudName(t.Profile), t.Strategy, status)
		}
		for _, c := range k.Ceremonies {
			mark := "verified"
			if !c.Verified {
				mark = "NOT VERIFIED: " + c.Problem
			}
			fmt.Fprintf(w, "  ceremony  %s %s %s (%s) %s\n", day(c.Time), c.Kind, c.ID, c.Dir, mark)
		}
		fmt.Fprintln(w)
	}
}
