//go:build cgo

package ceremony

import (
	"fmt"

	"github.com/keyceremony/keyceremony/internal/readback"
)

// typeBackAttempts is how often a person may type a fingerprint back wrong before the step
// fails: a key that never matches is not the one on the paper, and the ceremony must stop.
const typeBackAttempts = 3

// confirm asks r.Actor to confirm. With fingerprint set, the person types back its read-back form
// (128 bits, grouped with check letters), which is compared here; every wrong answer is recorded
// as an exception with the person who gave it. A headless run confirms nothing and says so.
func (e *engine) confirm(step string, r ConfirmRequest, fingerprint string) (Confirmation, error) {
	if fingerprint == "" {
		return e.confirmCheck(step, r, "", nil)
	}
	return e.confirmCheck(step, r, "fingerprint", func(typed string) error { return readback.Check(fingerprint, typed) })
}

// confirmCheck is confirm with the comparison of the type-back given: check says what is wrong
// with what was typed, what names the value in messages. A nil check asks for "yes".
func (e *engine) confirmCheck(step string, r ConfirmRequest, what string, check func(typed string) error) (Confirmation, error) {
	c := Confirmation{By: r.Actor}
	if e.ui.Mode() == ModeHeadless {
		_, err := e.ui.Confirm(r)
		c.How = ConfirmedHeadless
		return c, err
	}
	r.TypeBack = check != nil
	for attempt := 1; ; attempt++ {
		typed, err := e.ui.Confirm(r)
		if err != nil {
			return c, err
		}
		if !r.TypeBack {
			c.How = ConfirmedTypedYes
			return c, nil
		}
		err = check(typed)
		if err == nil {
			c.How = ConfirmedTypedBack
			return c, nil
		}
		e.exceptionBy(step, r.Actor, fmt.Sprintf("%s typed back a %s that does not match (attempt %d): %s", r.Actor, what, attempt, err))
		if attempt == typeBackAttempts {
			return c, fmt.Errorf("%s typed back a %s that does not match %d times: %v\nhint: if the %s on paper is not the one here, do not go on: find out where the key came from", r.Actor, what, attempt, err, what)
		}
		r.LastError = err.Error()
	}
}
