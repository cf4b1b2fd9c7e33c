package wrap

import (
	"time"

	"github.com/keyceremony/keyceremony/wrap/attest"
)

// The attestation policies of a gcp target.
const (
	AttestationRequired = "required"
	AttestationCheck    = "check"
	AttestationSkip     = "skip"
)

// attestationPolicy is the target's policy for its import job: required by default for a job at
// protection level HSM, which carries an attestation; none for other jobs, which carry none.
func attestationPolicy(t *Target, job gcpJob) (string, error) {
	hsmJob := job.protectionLevel == "HSM"
	switch t.Attestation {
	case "":
		if hsmJob {
			return AttestationRequired, nil
		}
		return "", nil
	case AttestationRequired, AttestationCheck, AttestationSkip:
		if !hsmJob {
			return "", t.errorf("attestation: %s, but import job %s is at protection level %s, which has no HSM attestation\nhint: remove attestation from the target, or create the import job with --protection-level hsm", t.Attestation, job.name, job.protectionLevel)
		}
		return t.Attestation, nil
	}
	return "", t.errorf("attestation %q is not required, check or skip\nhint: leave it out to require the HSM attestation (the default for an HSM import job)", t.Attestation)
}

// AttestationFacts are what a ceremony records of a target's attestation check.
type AttestationFacts struct {
	Policy string         `json:"policy"`
	Result *attest.Result `json:"result,omitempty"`
	// Failure is why the check failed, under the policy check.
	Failure string `json:"failure,omitempty"`
	Note    string `json:"note,omitempty"`
}

// CheckAttestation checks the import job's HSM attestation at now, as the target's policy says:
// under required a failure is an error, under check it is in the facts, under skip nothing is
// checked. It returns nil facts for a target without an attestation (not gcp, or a job that is
// not at protection level HSM).
func (p *Params) CheckAttestation(now time.Time) (*AttestationFacts, error) {
	switch p.attestation {
	case "":
		return nil, nil
	case AttestationSkip:
		return &AttestationFacts{Policy: AttestationSkip}, nil
	}
	r, err := attest.CheckGCP(p.job.raw, nil, now)
	f := &AttestationFacts{Policy: p.attestation, Result: r, Note: attest.Caveat}
	if err == nil {
		return f, nil
	}
	f.Failure = err.Error()
	if p.attestation == AttestationCheck {
		return f, nil
	}
	return nil, p.Target.errorf("the HSM attestation of import job %s does not hold: %v; nothing was made\nhint: do not wrap under this job: fetch it again on the connected side and run keyceremony attestation check on it (docs/attestation.md); attestation: check or skip in the target goes on without it, and is recorded", p.job.name, err)
}
