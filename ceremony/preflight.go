package ceremony

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

// DefaultExpiryMargin is how long import parameters must still be valid when the ceremony
// starts, when the plan sets no expiry_margin: time for the ceremony and for carrying the package
// to the connected side.
const DefaultExpiryMargin = time.Hour

// World is what the preflight knows beyond the plan's own files. A nil field is a check it
// cannot do, which Preflight lists instead.
type World struct {
	Now time.Time
	// Capabilities are the token's, probed; nil when the token is not reachable.
	Capabilities *hsmspec.Capabilities
	// Terminal says whether a person sees this run on a terminal, so typed and QR shares can be
	// shown; nil when that is known only when the ceremony runs.
	Terminal *bool
	// Params loads a target's parameters; nil means from the plan's files. On resume the engine
	// gives the copies pinned by the witness's check.
	Params func(wrap.Target) (*wrap.Params, error)
	// Done says which steps a resumed ceremony has already recorded: their checks are moot.
	Done func(step string) bool
}

// Preflight checks, before the HSM is touched, everything a ceremony could otherwise learn only
// after an irreversible step: that the token can wrap for every target (or the plan allows the
// host-assisted way it needs), that every target's import parameters stay valid for the expiry
// margin, that an import job's HSM attestation holds where the plan requires it, and that every share can be handed out the way the plan says. It returns the checks it
// could not do for want of the token or a terminal, in words for `plan check`.
func (p *Plan) Preflight(w World) (notChecked []string, err error) {
	margin, err := p.expiryMargin()
	if err != nil {
		return nil, err
	}
	if w.Capabilities != nil {
		if _, err := p.custodyCaps(*w.Capabilities); err != nil {
			return nil, err
		}
		if _, _, err := w.Capabilities.SigningKey(); err != nil {
			return nil, err
		}
		if p.Backup != nil && p.Kind != KindRestore && !p.setsSealed(w.Done) {
			for _, v := range p.Views() {
				if _, _, err := v.backupWrap(*w.Capabilities); err != nil {
					return nil, err
				}
			}
		}
	}
	var unprobed []string
	for _, t := range p.Targets {
		if p.Kind == KindReshare || w.Done != nil && w.Done(stepWrap+":"+t.Name) {
			continue
		}
		load := w.Params
		if load == nil {
			load = func(t wrap.Target) (*wrap.Params, error) { return wrap.Load(t, p.dir) }
		}
		params, err := load(t)
		if err != nil {
			return nil, err
		}
		if left := params.ValidTo.Sub(w.Now); !params.ValidTo.IsZero() && left < margin {
			return nil, errs.Unchanged(fmt.Sprintf("target %s: the import parameters expire at %s, in %s, inside the expiry margin of %s; the package could not be uploaded in time",
				t.Name, params.ValidTo.UTC().Format(time.RFC3339), minutes(left), minutes(margin)),
				"fetch new import parameters on the connected side (or set a shorter expiry_margin in the plan)")
		}
		// A wrapping key the cloud's HSM attestation does not vouch for is refused (policy
		// required) before anything is made; wrap.Params.CheckAttestation says how.
		if _, err := params.CheckAttestation(w.Now); err != nil {
			return nil, err
		}
		if w.Capabilities == nil {
			unprobed = append(unprobed, t.Name)
			continue
		}
		if _, err := params.Strategy(*w.Capabilities, t.AllowHostAssisted); err != nil {
			return nil, err
		}
		if fit := w.Capabilities.PKCS8; fit != nil {
			if err := params.RefusePadded(p.specFor(t), *fit); err != nil {
				return nil, err
			}
		}
	}
	if len(unprobed) > 0 {
		notChecked = append(notChecked, fmt.Sprintf("whether the token can wrap for %s (the token is not reachable from here)", strings.Join(unprobed, ", ")))
	}
	if p.Backup == nil || p.setsSealed(w.Done) {
		return notChecked, nil
	}
	for _, c := range p.Backup.Custodians {
		// A typed or QR share, and an age passphrase, are shown to the custodian on the screen.
		if c.Delivery == DeliveryAgeRecipient {
			continue
		}
		if w.Terminal == nil {
			notChecked = append(notChecked, fmt.Sprintf("that %s's %s share can be handed out: it needs the ceremony to run on a terminal", c.Name, c.Delivery))
			continue
		}
		if !*w.Terminal {
			return nil, &errs.Error{
				What:    fmt.Sprintf("custodian %s's share is delivered %s, which needs a person at a terminal, and this run has none (headless, or the output is not a terminal)", c.Name, c.Delivery),
				Changed: "nothing was made",
				Hint:    "run the ceremony on a terminal without --yes, or deliver the share to an age recipient (delivery age-recipient)",
			}
		}
	}
	return notChecked, nil
}

// setsSealed says whether done, the steps a resumed ceremony did, include the seal of every
// share set of the plan; false for a new run (done is nil).
func (p *Plan) setsSealed(done func(step string) bool) bool {
	if done == nil {
		return false
	}
	for _, v := range p.shareSets() {
		if !done(v.keyStepID(stepBackup)) {
			return false
		}
	}
	return true
}

// minutes says a duration the way people do: "45 minutes".
func minutes(d time.Duration) string {
	return fmt.Sprintf("%d minutes", int(d.Round(time.Minute).Minutes()))
}

// expiryMargin is the plan's expiry_margin, or the default.
func (p *Plan) expiryMargin() (time.Duration, error) {
	if p.ExpiryMargin == "" {
		return DefaultExpiryMargin, nil
	}
	d, err := time.ParseDuration(p.ExpiryMargin)
	if err != nil || d < 0 {
		return 0, planErr("expiry_margin %q is not a duration\nhint: write it like 90m or 2h", p.ExpiryMargin)
	}
	return d, nil
}
