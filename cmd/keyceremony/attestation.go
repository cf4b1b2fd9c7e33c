package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keyceremony/keyceremony/wrap/attest"
)

// cmdAttestation checks an import job's HSM attestation against the pinned roots, for the
// connected side before the job goes to the ceremony, and for auditors after it.
func cmdAttestation(args []string, stdout, stderr io.Writer) error {
	const synopsis = "attestation check [--attestation-file FILE] [--at TIME] [--json] IMPORT-JOB.json"
	if err := subcommand(args, "attestation", "check", synopsis, stderr); err != nil {
		return err
	}
	fs := newFlags("attestation check", synopsis, stderr)
	stmtFile := fs.String("attestation-file", "", "the statement gcloud wrote with --attestation-file (instead of, or the same as, attestation.content)")
	at := fs.String("at", "", "check the certificates' validity at this time (RFC 3339), as a ceremony recorded it; default now")
	asJSON := fs.Bool("json", false, "print the result as JSON, as the ceremony records it")
	pos, err := parse(fs, args[1:], operands{"import job file", 1, 1})
	if err != nil {
		return err
	}
	now := time.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--at %q is not an RFC 3339 time\nhint: write it like 2026-11-29T14:00:00Z", *at)
		}
	}
	job, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", pos[0], err)
	}
	var stmt []byte
	if *stmtFile != "" {
		if stmt, err = os.ReadFile(*stmtFile); err != nil {
			return fmt.Errorf("cannot read %s: %v", *stmtFile, err)
		}
	}
	r, err := attest.CheckGCP(job, stmt, now)
	if err != nil {
		return fmt.Errorf("%s: the attestation does not hold: %v\nhint: do not wrap a key under this import job: fetch it again (gcloud kms import-jobs describe --format=json) and check again; docs/attestation.md says what each step proves", pos[0], err)
	}
	if *asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	fmt.Fprintf(stdout, "%snote: %s\n", r.Summary(), attest.Caveat)
	return nil
}
