//go:build cgo

package ceremony

import (
	"encoding/json"
	"fmt"
)

// recordIntent records, before a step's effect, what it is about to create.
func (e *engine) recordIntent(step string, in Intent) error {
	return e.record(intentPrefix+step, in)
}

// intent returns the intent recorded for a step, in this run or before an interruption, and
// whether there is one.
func (e *engine) intent(step string) (Intent, bool, error) {
	var in Intent
	ev, ok := e.recorded[intentPrefix+step]
	if !ok && e.Resume {
		var err error
		if ev, ok, err = e.priorEvent(intentPrefix + step); err != nil {
			return in, false, err
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
