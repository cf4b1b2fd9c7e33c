package ceremony

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

// Ladder says, for `plan check`, what a token with caps will do at each step of the plan that
// depends on the token, and why: the transcript signing key, the custody restrictions, the
// backup's wrapping mechanism and each target's wrapping strategy. A step the token cannot do
// says "refused" and the reason, so all of them are seen at once; Preflight then refuses the
// plan with the first. Each target's import parameters are read from the plan's files.
func (p *Plan) Ladder(caps hsmspec.Capabilities) []string {
	line := func(step, what, why string) string { return fmt.Sprintf("%-22s %s: %s", step, what, firstLine(why)) }
	refused := func(step string, err error) string { return line(step, "refused", err.Error()) }
	var lines []string
	if alg, why, err := caps.SigningKey(); err != nil {
		lines = append(lines, refused("signing key", err))
	} else {
		lines = append(lines, line("signing key", alg, why))
	}
	if p.Kind != KindReshare && (p.Backup != nil || len(p.Targets) > 0) {
		lines = append(lines, p.custodyLadder(caps, line))
	}
	if p.Backup != nil && p.Kind != KindRestore {
		for _, v := range p.Views() {
			step := "backup"
			if v.scope != "" {
				step += " of " + v.scope
			}
			if mech, why, err := v.backupWrap(caps); err != nil {
				lines = append(lines, refused(step, err))
			} else {
				lines = append(lines, line(step, mech, why))
			}
		}
	}
	for _, t := range p.Targets {
		step := "target " + t.Name
		params, err := wrap.Load(t, p.dir)
		if err == nil {
			var res *wrap.Result
			if res, err = params.Strategy(caps, t.AllowHostAssisted); err == nil {
				lines = append(lines, line(step, res.Strategy, res.Reason))
				continue
			}
		}
		lines = append(lines, refused(step, err))
	}
	return lines
}

// custodyLadder is the custody line of Ladder: whether the token enforces trusted wrapping and
// takes the target key's restrictions, and what the plan accepts where it does not.
func (p *Plan) custodyLadder(caps hsmspec.Capabilities, line func(step, what, why string) string) string {
	waive, err := p.custodyCaps(caps)
	switch {
	case err != nil:
		return line("custody", "refused", err.Error())
	case len(waive) == 0:
		return line("custody", "enforced", "the token refuses to wrap a CKA_WRAP_WITH_TRUSTED key under an untrusted key, and only the security officer sets CKA_TRUSTED")
	}
	var why []string
	if !caps.TrustedWrap || slices.Contains(caps.Refused, "CKA_WRAP_WITH_TRUSTED") {
		why = append(why, "this token cannot enforce trusted wrapping")
	}
	return line("custody", "exception", strings.Join(append(why, "the plan accepts target keys made without "+strings.Join(waive, ", ")), "; "))
}

// backupWrap picks the mechanism the backup wraps the key with on a token with caps.
func (p *Plan) backupWrap(caps hsmspec.Capabilities) (mech, why string, err error) {
	return caps.BackupWrap(p.KeySpec(), p.Backup.AllowWeakerWrap)
}
