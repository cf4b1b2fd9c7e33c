//go:build cgo

package ceremony

import (
	"fmt"

	"github.com/keyceremony/keyceremony/internal/machine"
	"github.com/keyceremony/keyceremony/internal/readback"
)

// evidence is what the begin event records of what ran: the binary, the PKCS#11 module and the
// machine.
type evidence struct {
	binary  string // hex SHA-256 of the running binary
	module  string // hex SHA-256 of the PKCS#11 module file
	machine machine.Facts
}

// readEvidence reads the evidence before the token is touched, refuses a machine the plan's
// require: rules out (an abort only ends a ceremony, and may run anywhere), and shows the
// binary's hash for a witness to compare with the published release hash.
func (e *engine) readEvidence() error {
	m := machine.Host()
	if !e.Abort {
		if err := e.plan.RequireMachine(m); err != nil {
			return err
		}
	}
	bin, err := machine.BinarySHA256()
	if err != nil {
		return fmt.Errorf("%v\nhint: the record names the binary that ran by its SHA-256; run keyceremony from a readable file", err)
	}
	module := e.plan.Path(e.plan.Token.Module)
	mod, err := machine.FileSHA256(module)
	if err != nil {
		return fmt.Errorf("cannot read the PKCS#11 module %s: %v\nhint: check token.module in the plan", module, err)
	}
	e.evidence = evidence{binary: bin, module: mod, machine: m}
	e.ui.Notice(fmt.Sprintf("keyceremony binary SHA-256 %s, read back %s: compare it with the published release hash (SHA256SUMS) before going on", bin, readback.Format(bin)))
	return nil
}
