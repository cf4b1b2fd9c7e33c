//go:build cgo

package ceremony

import (
	"encoding/json"
	"fmt"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// intentPrefix starts the step id of an intent event: before a step creates something (a key, a
// share set, an import package) it records what exactly, so that a resumed ceremony adopts only
// that object and refuses anything else found in its place.
const intentPrefix = "intent:"

// Intent is what an intent event records.
type Intent struct {
	Label   string `json:"label,omitempty"`   // the key's CKA_LABEL
	CKAID   string `json:"cka_id,omitempty"`  // the key's CKA_ID, hex
	SetID   string `json:"set_id,omitempty"`  // the share set
	Package string `json:"package,omitempty"` // the import package's folder in the record
}

// recordIntent records, before a step's effect, what it is about to create.
func (e *engine) recordIntent(step string, in Intent) error {
	facts := map[string]any{}
	b, _ := json.Marshal(in)
	json.Unmarshal(b, &facts)
	return e.record(intentPrefix+step, facts)
}

// intent returns the intent recorded for a step, in this run or before an interruption, and
// whether there is one.
func (e *engine) intent(step string) (Intent, bool, error) {
	var in Intent
	ev, ok := e.recorded[intentPrefix+step]
	if !ok && e.Resume {
		events, err := transcript.Read(e.out)
		if err != nil {
			return in, false, err
		}
		for _, x := range events {
			if x.Kind == transcript.KindStep && x.Step == intentPrefix+step {
				ev, ok = x, true
			}
		}
	}
	if !ok {
		return in, false, nil
	}
	if err := json.Unmarshal(ev.Facts, &in); err != nil {
		return in, false, fmt.Errorf("the intent of step %s cannot be read: %v", step, err)
	}
	return in, true, nil
}
