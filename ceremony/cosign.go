package ceremony

import (
	"slices"

	"github.com/keyceremony/keyceremony/ceremony/witness"
)

// CosignPlan names a witness who cosigns the sealed checkpoint at the ceremony's close, and the
// verifier key of their witness key (from 'keyceremony witness keygen'), so that the key used is
// the one auditors were given. Witnesses not named here cosign later with 'keyceremony cosign'.
type CosignPlan struct {
	Witness string `yaml:"witness"`
	Key     string `yaml:"key"`
}

// stepCosign is the step of one witness cosigning at the close: "cosign:<name>".
const stepCosign = "cosign"

func (p *Plan) validateCosign() error {
	seen := map[string]bool{}
	for _, c := range p.Cosign {
		if !slices.Contains(p.Participants, Actor{Role: RoleWitness, Name: c.Witness}) {
			return planErr("cosign names %q, who is not a witness of this ceremony\nhint: list them under participants with role: witness", c.Witness)
		}
		if seen[c.Witness] {
			return planErr("cosign names %q twice\nhint: one witness key per witness", c.Witness)
		}
		seen[c.Witness] = true
		if _, err := witness.ParseVerifier(c.Key); err != nil {
			return planErr("cosign: the key of %s is not the verifier key of an Ed25519 witness key\nhint: give the line 'keyceremony witness keygen' printed (NAME+ID+BASE64)", c.Witness)
		}
	}
	return nil
}

func (p *Plan) cosigner(name string) CosignPlan {
	for _, c := range p.Cosign {
		if c.Witness == name {
			return c
		}
	}
	panic("ceremony: script names unknown cosigner " + name)
}
