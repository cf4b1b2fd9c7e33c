package wrap

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/wrap/attest"
)

var attestNow = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func TestAttestationPolicy(t *testing.T) {
	withPolicy := func(base Target, policy string) Target { base.Attestation = policy; return base }
	software := func(policy string) Target {
		tg := withPolicy(gcpTarget(), policy)
		tg.Params = variant(t, "gcp-import-job.json", `"HSM"`, `"SOFTWARE"`)
		return tg
	}
	synthetic := Target{Name: "gcp-prod", Profile: ProfileGCP, KeyName: "payments",
		Params: filepath.Join("..", "attest", "testdata", "job-v2.json")}
	noAttestation := `target "gcp-prod": the HSM attestation of import job ` + gcpJobFull + ` does not hold: certChains.caviumCerts is empty; nothing was made` +
		"\nhint: do not wrap under this job: fetch it again on the connected side and run keyceremony attestation check on it (docs/attestation.md); attestation: check or skip in the target goes on without it, and is recorded"
	for _, c := range []struct {
		name      string
		target    Target
		policy    string // the facts' policy; "" for no facts
		failure   string // the facts' failure under check
		refusal   string // CheckAttestation's error
		loadError string
	}{
		// An HSM job is required to carry an attestation that holds, by default (the fixture's has
		// no certificate chains).
		{name: "HSM job, default", target: gcpTarget(), refusal: noAttestation},
		{name: "HSM job, required", target: withPolicy(gcpTarget(), "required"), refusal: noAttestation},
		// The synthetic job of package attest holds under its own roots only, never the pinned ones.
		{name: "synthetic chains, default", target: synthetic, refusal: `target "gcp-prod": the HSM attestation of import job projects/synthetic/locations/global/keyRings/ring/importJobs/job does not hold: caviumCerts: no card certificate is issued by a pinned Marvell root; nothing was made` +
			"\nhint: do not wrap under this job: fetch it again on the connected side and run keyceremony attestation check on it (docs/attestation.md); attestation: check or skip in the target goes on without it, and is recorded"},
		{name: "synthetic chains, check", target: withPolicy(synthetic, "check"), policy: "check", failure: "caviumCerts: no card certificate is issued by a pinned Marvell root"},
		{name: "HSM job, skip", target: withPolicy(gcpTarget(), "skip"), policy: "skip"},
		// A software job has no attestation to check, and asking for one is an error.
		{name: "software job", target: software("")},
		{name: "software job, required", target: software("required"), loadError: `target "gcp-prod": attestation: required, but import job ` + gcpJobFull + ` is at protection level SOFTWARE, which has no HSM attestation` +
			"\nhint: remove attestation from the target, or create the import job with --protection-level hsm"},
		{name: "misspelt", target: withPolicy(gcpTarget(), "requried"), loadError: `target "gcp-prod": attestation "requried" is not required, check or skip` +
			"\nhint: leave it out to require the HSM attestation (the default for an HSM import job)"},
		{name: "aws", target: withPolicy(awsTarget(), "check"), loadError: `target "aws-prod": attestation does not apply to profile aws` + "\nhint: remove it from the target"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Load(c.target, "testdata")
			if c.loadError != "" {
				if err == nil || err.Error() != c.loadError {
					t.Fatalf("Load: got %v\nwant %s", err, c.loadError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := p.CheckAttestation(attestNow)
			if c.refusal != "" {
				if err == nil || err.Error() != c.refusal {
					t.Fatalf("got %v\nwant %s", err, c.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case c.policy == "" && f != nil:
				t.Fatalf("facts %+v for a job without attestation", f)
			case c.policy != "" && (f == nil || f.Policy != c.policy || f.Failure != c.failure || f.Result != nil):
				t.Fatalf("facts %+v", f)
			case c.policy == "check" && f.Note != attest.Caveat:
				t.Fatalf("note %q", f.Note)
			}
		})
	}
}
