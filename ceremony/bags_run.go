//go:build cgo

package ceremony

import (
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/internal/errs"
)

// headlessBags refuses, before anything is made, a headless run that must record bag serials
// it was not given.
func (o Options) headlessBags() error {
	b := o.Plan.Backup
	if o.UI.Mode() != ModeHeadless || b == nil || !b.Bags {
		return nil
	}
	for _, c := range b.Custodians {
		if err := checkBagSerial(o.BagSerials[c.Name]); err != nil {
			return &errs.Error{What: fmt.Sprintf("custodian %s's share goes into a tamper-evident bag (backup.bags) and this run is headless: %v", c.Name, err), Changed: "nothing was made", Hint: fmt.Sprintf("pass --bag %s=SERIAL for each custodian", c.Name)}
		}
	}
	return nil
}

// handoutBag asks for the serial of the tamper-evident bag share index was sealed into, in front
// of the witness (plan backup.bags).
func (e *engine) handoutBag(c CustodianPlan, index int) (*BagFacts, error) {
	who := Actor{Role: RoleCustodian, Name: c.Name}
	if e.ui.Mode() == ModeHeadless {
		return &BagFacts{Serial: e.BagSerials[c.Name], TypedBy: Confirmation{By: who, How: ConfirmedHeadless}}, nil
	}
	r := ConfirmRequest{Actor: who, Reason: true,
		Prompt: fmt.Sprintf("%s: seal share %d in its tamper-evident bag in front of the witness, then type the bag's serial as printed on it", c.Name, index)}
	for attempt := 1; ; attempt++ {
		typed, err := e.ui.Confirm(r)
		if err != nil {
			return nil, err
		}
		serial := strings.TrimSpace(typed)
		if err = checkBagSerial(serial); err == nil {
			return &BagFacts{Serial: serial, TypedBy: Confirmation{By: who, How: ConfirmedTypedBack}}, nil
		}
		if attempt == typeBackAttempts {
			return nil, fmt.Errorf("no bag serial for %s's share %d after %d attempts: %v\nhint: the share set is not sealed; resume with the bag at hand", c.Name, index, attempt, err)
		}
		r.LastError = err.Error()
	}
}

// inspectBag asks for the serial of the bag share index came out of and compares it with the
// one its handout recorded. A mismatch is an exception the witness must acknowledge before
// the share is used.
func (e *engine) inspectBag(custodian string, index int) (*BagInspection, error) {
	who := Actor{Role: RoleCustodian, Name: custodian}
	typed, err := askBagSerial(e.ui, e.BagSerials, who, fmt.Sprintf("Serial of the bag %s's share %d came out of, as printed on it", custodian, index))
	if err != nil {
		return nil, err
	}
	b, problem := compareBag(who, index, e.oldBags[index], typed, e.ui.Mode())
	if problem == "" {
		return b, nil
	}
	witness := e.plan.first(RoleWitness)
	e.exceptionBy(stepCollect, who, problem)
	c, err := e.confirm(stepCollect, ConfirmRequest{Actor: witness,
		Prompt: fmt.Sprintf("%s: the bag of share %d does not match its handout record; type yes to use the share all the same", witness.Name, index),
		Detail: problem + ". Check the bag for signs of opening and note it on the exception sheet."}, "")
	if err != nil {
		return nil, err
	}
	b.Acknowledged = &c
	return b, nil
}
