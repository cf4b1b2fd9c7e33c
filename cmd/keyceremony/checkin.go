package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/ui"
)

// cmdCheckIn runs a kind: check-in plan. It touches no HSM, so it runs in the auditor's build too.
func cmdCheckIn(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("check-in", "check-in PLAN [flags]", stderr)
	yes := fs.Bool("yes", false, "run headless: take the shares from --share files, in the plan's custodian order")
	plain := fs.Bool("plain", false, "plain line prompts instead of the full-screen interface")
	var identities, shares, bags multiFlag
	fs.Var(&identities, "identity", "age identity file that opens age-recipient share files (repeatable)")
	fs.Var(&shares, "share", "share file (age or typed text), one per expected custodian in order, for headless runs (repeatable)")
	fs.Var(&bags, "bag", "NAME=SERIAL: the bag serial custodian NAME read from their bag, for headless runs (repeatable)")
	pos, err := parse(fs, args, operands{"plan", 1, 1})
	if err != nil {
		return err
	}
	p, err := ceremony.LoadPlan(pos[0])
	if err != nil {
		return err
	}
	ids, err := readIdentities(identities)
	if err != nil {
		return err
	}
	serials, err := bagSerials(bags)
	if err != nil {
		return err
	}
	o := ceremony.CheckInOptions{Plan: p, Identities: ids, BagSerials: serials}
	var fp string
	run := func(in ceremony.Interaction) error {
		o.UI = in
		fp, err = ceremony.RunCheckIn(o)
		return err
	}
	switch {
	case *yes:
		err = run(&ceremony.Headless{Log: stderr, ShareFiles: shares})
	case len(bags) > 0 || len(shares) > 0:
		return fmt.Errorf("--share and --bag are for headless check-ins (--yes)\nhint: custodians present enter their shares and bag serials at the screen")
	default:
		err = atScreen(*plain, stdin, stdout, run)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "check-in %s recorded and sealed in %s\nsigned by a key made for it alone: %s\nwrite it on the paper log; check with: keyceremony verify --fingerprint %s %s\nwitnesses cosign it with: keyceremony cosign %s --key FILE\n",
		p.Ceremony, p.OutputDir(), readback.Format(fp), fp, p.OutputDir(), p.OutputDir())
	return nil
}

// atScreen runs a ceremony or check-in with a person at this terminal: line prompts with --plain
// or where the terminal cannot take the full-screen interface, that interface otherwise.
func atScreen(plain bool, stdin io.Reader, stdout io.Writer, run func(ceremony.Interaction) error) error {
	if plain || ui.ChooseMode(os.LookupEnv, isTerminal(os.Stdin), isTerminal(os.Stdout)) == ui.ModeLines {
		return run(ui.Lines(stdin, stdout))
	}
	return ui.RunCeremony(ui.Options{}, run)
}

func readIdentities(paths []string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read identity file: %v", err)
		}
		got, err := backup.ParseIdentity(data)
		clear(data)
		if err != nil {
			return nil, fmt.Errorf("identity file %s: %w", p, err)
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// bagSerials reads --bag NAME=SERIAL flags: the bag serials of a headless run, by custodian.
func bagSerials(bags []string) (map[string]string, error) {
	serials := map[string]string{}
	for _, b := range bags {
		name, serial, ok := strings.Cut(b, "=")
		if !ok || name == "" || serial == "" {
			return nil, fmt.Errorf("--bag %q is not NAME=SERIAL\nhint: e.g. --bag Alice=A1234567", b)
		}
		serials[name] = serial
	}
	return serials, nil
}
