//go:build cgo

package ceremony

import (
	"encoding/json"
	"fmt"
	"slices"

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
			if !sameHistory(f.Rotates, v.rotatedKey()) {
				return errs.Unchanged(fmt.Sprintf("the history of key %s is not what step %s recorded: the folders given with --history differ (their checkpoints, targets or packages)", f.Rotates.Label, step),
					"give the same --history folders as when the ceremony started, as they were then")
			}
		}
	}
	return nil
}

// sameHistory says whether two lookups of a rotated key found the same history: the same keys,
// ceremonies, checkpoints, targets and packages. Where the folders were found does not count:
// a history brought on another medium, mounted elsewhere, is the same history.
func sameHistory(a, b *RotatedKeyFacts) bool {
	key := func(r *RotatedKeyFacts) string {
		if r == nil {
			return ""
		}
		c := *r
		c.Folder = ""
		c.Targets = slices.Clone(r.Targets)
		for i := range c.Targets {
			c.Targets[i].Package = ""
		}
		c.History = slices.Clone(r.History)
		for i := range c.History {
			c.History[i].Folder = ""
		}
		j, _ := json.Marshal(c)
		return string(j)
	}
	return key(a) == key(b)
}
