//go:build cgo

package ceremony

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony/witness"
)

// cosignAttempts bounds how often a witness may give a key file that does not cosign; after
// that the ceremony ends and the witness cosigns later.
const cosignAttempts = 3

// cosignAtClose lets a witness named in the plan cosign the sealed checkpoint with their own
// witness key. The transcript is sealed, so nothing here is recorded or can fail the ceremony:
// the cosignature is in the checkpoint file, and a witness who does not cosign now (typing
// later, stopping, or giving a key that does not cosign) is told how to do it afterwards.
func (e *engine) cosignAtClose(name string) error {
	who := Actor{Role: RoleWitness, Name: name}
	later := fmt.Sprintf("%s can cosign later with: keyceremony cosign %s --key FILE", name, e.out)
	if e.ui.Mode() == ModeHeadless {
		e.ui.Notice("nobody is at the terminal to cosign; " + later)
		return nil
	}
	r, err := witness.Verified(e.out)
	if err != nil {
		return err
	}
	want, err := witness.ParseVerifier(e.plan.cosigner(name).Key)
	if err != nil {
		panic("ceremony: plan validation let an invalid cosign key through")
	}
	origin, count, head := checkpointLines(r.Checkpoint)
	var lastErr string
	for range cosignAttempts {
		path, err := e.ui.Confirm(ConfirmRequest{Actor: who, Reason: true, LastError: lastErr,
			Prompt: "Type the path of your witness key file to cosign the checkpoint, or later",
			Detail: fmt.Sprintf("Sealed checkpoint of %s: %s events, chain head %s.\nCompare it with the paper log before you cosign. Your witness key: %s", origin, count, head, want.Fingerprint()),
		})
		if errors.Is(err, ErrAborted) || errors.Is(err, ErrEndOfInput) || strings.TrimSpace(path) == "later" {
			e.ui.Notice(later)
			return nil
		}
		if err != nil {
			return err
		}
		err = e.cosignWith(strings.Trim(strings.TrimSpace(path), `'"`), who, want, r.Checkpoint) // a dropped path may come quoted
		if err == nil || errors.Is(err, witness.ErrAlreadyCosigned) {
			e.ui.Success(fmt.Sprintf("%s cosigned the checkpoint", name))
			return nil
		}
		lastErr = firstLine(err.Error())
	}
	e.ui.Notice(fmt.Sprintf("%s's key did not cosign after %d attempts (%s); %s", name, cosignAttempts, lastErr, later))
	return nil
}

// cosignWith cosigns the checkpoint with the witness key in path, which must be want.
func (e *engine) cosignWith(path string, who Actor, want witness.Verifier, checkpoint string) error {
	k, err := witness.ReadKeyFile(path, func() ([]byte, error) {
		return e.ui.Secret(SecretRequest{Actor: who, Prompt: "Passphrase of your witness key file", Purpose: "witness-key"})
	})
	if err != nil {
		return err
	}
	defer k.Close()
	if got := k.Verifier(); got.String() != want.String() {
		return fmt.Errorf("%s holds the witness key %s, not the one the plan names for %s (%s)", path, got.Fingerprint(), who.Name, want.Fingerprint())
	}
	return witness.Cosign(e.out, checkpoint, k, e.Now())
}

// checkpointLines splits a checkpoint's text into its origin, event count and chain head.
func checkpointLines(text string) (origin, count, head string) {
	lines := strings.SplitN(strings.TrimSuffix(text, "\n"), "\n", 3)
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	return lines[0], lines[1], lines[2]
}
