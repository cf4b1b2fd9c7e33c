//go:build cgo

package ceremony

import (
	"encoding/json"
	"fmt"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/errs"
)

// checkRotationsAgain reads a resumed rotation's history again, before the token is touched, and
// refuses a history that no longer says what the generate-key events recorded: the packages still
// to write are new versions of what the record links, or nothing.
func (e *engine) checkRotationsAgain(events []transcript.Event) error {
	if e.Abort {
		return nil
	}
	if err := e.plan.checkRotations(); err != nil {
		return err
	}
	for _, v := range e.plan.Views() {
		step := v.keyStepID(stepGenerateKey)
		for _, ev := range events {
			var f KeyFacts
			if ev.Kind != transcript.KindStep || ev.Step != step || json.Unmarshal(ev.Facts, &f) != nil || f.Rotates == nil {
				continue
			}
			was, _ := json.Marshal(f.Rotates)
			if now, _ := json.Marshal(v.rotatedKey()); string(was) != string(now) {
				return errs.Unchanged(fmt.Sprintf("the history of key %s is not what step %s recorded: the folders given with --history differ (their checkpoints, targets or packages)", f.Rotates.Label, step),
					"give the same --history folders as when the ceremony started, as they were then")
			}
		}
	}
	return nil
}
