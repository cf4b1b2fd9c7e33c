package ceremony

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// setStatus is what the verified transcripts of a key's ceremonies say of the share set a
// restore or re-share is given. A manifest is trusted only when a sealed backup event of one of
// them names its exact bytes (SHA-256); the set is then void if an event destroyed it, and
// superseded if a later sealed backup event says it replaces it (a re-share).
type setStatus struct {
	SetID        string
	SealedIn     string // the ceremony folder whose backup event names this manifest
	VoidIn       string // the ceremony folder that voided the set, or ""
	SupersededBy string // the set that replaces it, or ""
	SupersededIn string // the ceremony folder of that set
}

// readSetStatus verifies each ceremony folder (named in the plan's field, for messages) (all must verify: an unverified record proves
// nothing either way) and finds the set of manifest in their events. The caller decides what a
// superseded set means; a void or unsealed set is an error here.
func readSetStatus(manifest []byte, m *backup.Manifest, dirs []string, field string) (setStatus, error) {
	sum := sha256.Sum256(manifest)
	want := hex.EncodeToString(sum[:])
	st := setStatus{SetID: m.SetID}
	sealedOther := ""
	for _, dir := range dirs {
		r := transcript.Verify(dir)
		if !r.OK {
			return st, fmt.Errorf("ceremony folder %s named in %s does not verify: %s\nhint: whether a backup set is current is read only from verified transcripts; check it with 'keyceremony verify %s'", dir, field, r.Problem, dir)
		}
		for _, ev := range r.Chain { // the events as they verified, not the file read again
			facts := StepFacts(ev.Step)
			if ev.Kind != transcript.KindStep || facts == nil || json.Unmarshal(ev.Facts, facts) != nil {
				continue
			}
			switch f := facts.(type) {
			case *VoidSetFacts:
				if f.SetID == m.SetID {
					st.VoidIn = dir
				}
			case *BackupFacts:
				switch {
				case f.Replaces == m.SetID:
					st.SupersededBy, st.SupersededIn = f.SetID, dir
				case f.SetID == m.SetID:
					for _, file := range ev.Files {
						if path.Base(file.Path) == backup.ManifestFile && file.SHA256 == want {
							st.SealedIn = dir
						} else if path.Base(file.Path) == backup.ManifestFile {
							sealedOther = dir
						}
					}
				}
			}
		}
	}
	switch {
	case st.VoidIn != "":
		return st, fmt.Errorf("backup set %s is void: ceremony folder %s records that it was never sealed and was destroyed\nhint: its shares open nothing you may rely on; restore from the set that ceremony sealed instead", m.SetID, st.VoidIn)
	case st.SealedIn == "" && sealedOther != "":
		return st, fmt.Errorf("the manifest of backup set %s differs from the one ceremony folder %s sealed (SHA-256)\nhint: use the manifest from that ceremony folder", m.SetID, sealedOther)
	case st.SealedIn == "":
		return st, fmt.Errorf("backup set %s is not sealed in any ceremony folder named in %s (%s)\nhint: name the folder of the ceremony that made this backup and of every re-share since", m.SetID, field, strings.Join(dirs, ", "))
	}
	return st, nil
}

// superseded says why a superseded set is refused, or, when the plan allows it for disaster
// recovery, the exception to record; both "" for a current set.
func (st setStatus) superseded(allowed bool) (refusal error, exception string) {
	if st.SupersededBy == "" {
		return nil, ""
	}
	what := fmt.Sprintf("backup set %s is superseded by set %s (ceremony folder %s)", st.SetID, st.SupersededBy, st.SupersededIn)
	if allowed {
		return nil, what + "; it is opened because the plan says restore.allow_superseded: true (disaster recovery)"
	}
	return fmt.Errorf("%s; its shares must not be used\nhint: restore from the current set; only for disaster recovery, when the current set is lost, set restore.allow_superseded: true (recorded as an exception)", what), ""
}
