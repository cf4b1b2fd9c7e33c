package ceremony

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

// What stays in the token once the ceremony is sealed.
const (
	CustodyKeep    = "keep"
	CustodyDestroy = "destroy"
)

// CustodyPlan says what the token enforces about the target key and what stays in the token when
// the ceremony is sealed. The transcript signing key never stays: it is destroyed after the seal.
type CustodyPlan struct {
	// Target is keep (the default) or destroy: destroy leaves the key only in the clouds it was
	// wrapped for and in the quorum's backup; a restore ceremony brings it back.
	Target string `yaml:"target"`
	// BackupKey is destroy (the default) or keep: keep stores a copy of the backup key in the
	// token that can wrap (back up another key under the same shares; no ceremony kind uses it
	// yet) but never unwrap.
	BackupKey string `yaml:"backup_key"`
	// AllowUntrustedWrap runs without CKA_WRAP_WITH_TRUSTED and without the security officer's
	// trust step, on a token that cannot enforce it. Recorded as an exception.
	AllowUntrustedWrap bool `yaml:"allow_untrusted_wrap"`
	// AllowRefusedAttributes names restrictions (CKA_COPYABLE, CKA_MODIFIABLE) target keys may
	// be made without if the token refuses them. Recorded as an exception when used.
	AllowRefusedAttributes []string `yaml:"allow_refused_attributes"`
}

// Step ids of the custody model. The trust step is recorded on every run that made trusted
// objects; its objects live in the session and are made again after an interruption.
const (
	stepTrust   = "trust"
	stepCustody = "custody"
	stepDestroy = "destroy" // ":target", ":backup-key", ":signing-key"
)

// TrustFacts: the keys the security officer marked CKA_TRUSTED when the token was opened (step
// trust, on every run that marked any).
type TrustFacts struct {
	SecurityOfficer Actor                `json:"security_officer"`
	Objects         []wrap.TrustedObject `json:"objects"`
	SOPINEntered    string               `json:"so_pin_entered"` // "typed", or "headless (--so-pin-env)"
	// DestroyedStaleKeptBackupKey is the CKA_ID of a kept backup key copy an interrupted run
	// made for a share set that was never sealed.
	DestroyedStaleKeptBackupKey string `json:"destroyed_stale_kept_backup_key,omitempty"`
}

// DestroyFacts: an object was destroyed (steps destroy:target and destroy:backup-key), or, for
// the transcript signing key, will be right after the seal (step destroy:signing-key).
type DestroyFacts struct {
	Label        string `json:"label,omitempty"`
	ID           string `json:"id,omitempty"` // hex CKA_ID
	KCV          string `json:"kcv,omitempty"`
	Fingerprint  string `json:"fingerprint,omitempty"`
	BackupKeyKCV string `json:"backup_key_kcv,omitempty"`
	SetID        string `json:"set_id,omitempty"`
	How          string `json:"how,omitempty"`
	When         string `json:"when,omitempty"`
	// FoundDestroyedAfterInterruption: the object was already gone when a resumed run came to
	// destroy it (an interruption between the destruction and its record).
	FoundDestroyedAfterInterruption bool `json:"found_destroyed_after_interruption,omitempty"`
}

// CustodyFacts: what stays in the token once the ceremony is sealed (step custody).
type CustodyFacts struct {
	Target      string `json:"target"` // "kept", "destroyed", ...
	TargetLabel string `json:"target_label,omitempty"`
	// TargetLabels are the labels of the keys that stay, in a ceremony of several keys.
	TargetLabels  []string      `json:"target_labels,omitempty"`
	BackupKey     string        `json:"backup_key,omitempty"` // "destroyed", "kept", ...; absent without a backup
	KeptBackupKey *DestroyFacts `json:"kept_backup_key,omitempty"`
	SigningKey    string        `json:"signing_key"`
	Aborted       bool          `json:"aborted,omitempty"`
}

// backupKeyLabel labels the kept copy of a ceremony's backup key.
func (p *Plan) backupKeyLabel() string { return p.Ceremony + "/backup-key" }

// trusting reports whether the ceremony needs the security officer to mark wrapping keys
// CKA_TRUSTED: it wraps the target key (backup or targets) and the plan does not opt out.
func (p *Plan) trusting() bool {
	return !p.Custody.AllowUntrustedWrap && (p.Backup != nil || len(p.Targets) > 0)
}

func (p *Plan) validateCustody() error {
	c := p.Custody
	switch c.Target {
	case "", CustodyKeep:
	case CustodyDestroy:
		if p.Kind == KindReshare {
			return planErr("custody.target: a reshare ceremony leaves no target key in the token\nhint: remove custody.target")
		}
	default:
		return planErr("custody.target is %q\nhint: keep or destroy", c.Target)
	}
	switch c.BackupKey {
	case "", CustodyDestroy:
	case CustodyKeep:
		if p.Backup == nil {
			return planErr("custody.backup_key: a %s ceremony makes no backup key\nhint: remove custody.backup_key", p.Kind)
		}
	default:
		return planErr("custody.backup_key is %q\nhint: destroy or keep", c.BackupKey)
	}
	for _, a := range c.AllowRefusedAttributes {
		if a != "CKA_COPYABLE" && a != "CKA_MODIFIABLE" {
			return planErr("custody.allow_refused_attributes names %q\nhint: only CKA_COPYABLE and CKA_MODIFIABLE may be allowed; for CKA_WRAP_WITH_TRUSTED see allow_untrusted_wrap", a)
		}
	}
	if p.trusting() && p.first(RoleSecurityOfficer).Name == "" {
		return planErr("no security officer among the participants; the token's trust step needs one\nhint: add a participant with role: security-officer (they type the SO PIN), or set custody.allow_untrusted_wrap: true if the token cannot enforce trusted wrapping")
	}
	return nil
}

// custodyInstructions says what the custody step leaves in the token.
func (p *Plan) custodyInstructions() string {
	var b strings.Builder
	keys := quoteKeys(p.keyLabels())
	keys = strings.ToUpper(keys[:1]) + keys[1:]
	several := len(p.Keys) > 1
	switch {
	case p.Kind == KindReshare:
		b.WriteString("No target key is in the token.")
	case p.Custody.Target == CustodyDestroy && several:
		b.WriteString(keys + " are destroyed: they live on only in their clouds and in the backup.")
	case p.Custody.Target == CustodyDestroy:
		b.WriteString(keys + " is destroyed: it lives on only in its clouds and in the backup.")
	case several:
		b.WriteString(keys + " stay in the token.")
	default:
		b.WriteString(keys + " stays in the token.")
	}
	if p.Backup != nil {
		if p.Custody.BackupKey == CustodyKeep {
			fmt.Fprintf(&b, " A wrap-only copy of the backup key stays in the token as %q.", p.backupKeyLabel())
		} else {
			b.WriteString(" The backup key is gone from the token.")
		}
	}
	return b.String()
}

// custodyCaps checks that a token with caps can keep the plan's custody promises: it enforces
// CKA_WRAP_WITH_TRUSTED and takes the other restrictions, or the plan accepts what it cannot. It
// returns the restrictions target keys are to be made without.
func (p *Plan) custodyCaps(caps hsmspec.Capabilities) (waive []string, err error) {
	c := p.Custody
	if !c.AllowUntrustedWrap && (!caps.TrustedWrap || slices.Contains(caps.Refused, "CKA_WRAP_WITH_TRUSTED")) {
		return nil, errors.New("the token does not enforce CKA_WRAP_WITH_TRUSTED (the probe wrapped a test key marked with it under an untrusted key, or the token refused the attribute); anyone with the user PIN could wrap the key out under a key of their own\nhint: use a token that enforces it, or set custody.allow_untrusted_wrap: true in the plan (recorded as an exception)")
	}
	if c.AllowUntrustedWrap {
		waive = append(waive, "CKA_WRAP_WITH_TRUSTED")
	}
	for _, a := range caps.Refused {
		switch {
		case a == "CKA_WRAP_WITH_TRUSTED":
		case slices.Contains(c.AllowRefusedAttributes, a):
			waive = append(waive, a)
		default:
			return nil, fmt.Errorf("the token refuses %s in a key template, so the target key could not be protected by it\nhint: use a token that accepts it, or list it under custody.allow_refused_attributes in the plan (recorded as an exception)", a)
		}
	}
	return waive, nil
}

// EndState says in one line what the verified events say stayed in the token: the custody
// step's record. The signing key's destruction after the seal is recorded as an intent before
// the seal; no offline check can see into the token, so the line says so.
func EndState(events []transcript.Event) string {
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		if ev.Step != stepCustody || ev.Kind != transcript.KindStep {
			continue
		}
		var f CustodyFacts
		if err := json.Unmarshal(ev.Facts, &f); err != nil {
			return "end state: the custody event cannot be read"
		}
		parts := []string{"target key " + f.Target}
		if len(f.TargetLabels) > 0 {
			parts[0] = quoteKeys(f.TargetLabels) + " " + f.Target
		}
		switch {
		case f.KeptBackupKey != nil:
			parts = append(parts, fmt.Sprintf("backup key kept as %s (wrap only)", f.KeptBackupKey.Label))
		case f.BackupKey != "":
			parts = append(parts, "backup key "+f.BackupKey)
		}
		parts = append(parts, "transcript signing key "+f.SigningKey+" (recorded before it; the token itself cannot be checked from the record)")
		return "end state: " + strings.Join(parts, "; ")
	}
	return "end state: not recorded (the ceremony ended without its custody step, or predates it)"
}
