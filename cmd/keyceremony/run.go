//go:build cgo

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("run", "run PLAN [flags] | run (--resume | --abort) DIR [flags]", stderr)
	yes := fs.Bool("yes", false, "run headless: accept confirmations, take secrets from --pin-env/--pin-file")
	resume := fs.Bool("resume", false, "resume the interrupted ceremony in DIR (or in PLAN's output folder)")
	abort := fs.Bool("abort", false, "end the interrupted ceremony in DIR instead: void unsealed share sets, record the abort, seal")
	reason := fs.String("reason", "", "why the ceremony is aborted, for the record (with --abort; needed with --yes, asked for otherwise)")
	plain := fs.Bool("plain", false, "plain line prompts instead of the full-screen interface")
	pinEnv := fs.String("pin-env", "", "read the user PIN from this environment variable (headless)")
	pinFile := fs.String("pin-file", "", "read the user PIN from this file (headless)")
	soPinEnv := fs.String("so-pin-env", "", "read the security officer PIN from this environment variable (headless)")
	soPinFile := fs.String("so-pin-file", "", "read the security officer PIN from this file (headless)")
	var identities, shares, bags, history multiFlag
	fs.Var(&history, "history", "a rotation (kind: rotate): a folder of the ceremonies of the keys it rotates, or a ceremony folder; every one must verify (repeatable)")
	fs.Var(&identities, "identity", "age identity file that opens age-recipient share files in the verification round (repeatable)")
	fs.Var(&shares, "share", "share file (age or typed text) entered for restore or re-share in headless runs (repeatable)")
	fs.Var(&bags, "bag", "NAME=SERIAL: the tamper-evident bag serial of custodian NAME's share, for headless runs of a plan with backup.bags (repeatable)")
	pos, err := parse(fs, args, operands{"plan or folder", 1, 1})
	if err != nil {
		return err
	}
	planPath := pos[0]
	var p *ceremony.Plan
	st, serr := os.Stat(planPath)
	switch {
	case (*resume || *abort) && errors.Is(serr, os.ErrNotExist):
		return fmt.Errorf("%s does not exist: if it is the output folder of a ceremony, that ceremony had not started (nothing was written or made)\nhint: start it with 'keyceremony run PLAN'", planPath)
	case (*resume || *abort) && serr == nil && st.IsDir():
		p, err = ceremony.LoadFolder(planPath)
	default:
		p, err = ceremony.LoadPlan(planPath)
	}
	if err != nil {
		return err
	}
	p.SetHistory(history)
	if *reason != "" && !*abort {
		return errors.New("--reason is the reason for an abort; it goes with --abort DIR")
	}
	ids, err := readIdentities(identities)
	if err != nil {
		return err
	}
	serials, err := bagSerials(bags)
	if err != nil {
		return err
	}
	if len(bags) > 0 && !*yes {
		return errors.New("--bag is for headless runs (--yes)\nhint: custodians present type their bag serials at the screen")
	}
	opts := ceremony.Options{Plan: p, PlanPath: planPath, Resume: *resume, Abort: *abort, AbortReason: strings.Join(strings.Fields(*reason), " "), Identities: ids, BagSerials: serials}
	runEngine := func(in ceremony.Interaction) error {
		opts.UI = in
		return ceremony.Run(opts)
	}
	switch {
	case *yes:
		var h ceremony.Interaction = &ceremony.Headless{Log: stderr, ShareFiles: shares, Secrets: headlessSecrets(pinSource{*pinEnv, *pinFile}, pinSource{*soPinEnv, *soPinFile})}
		if crashTestHook != nil {
			h = crashTestHook(h)
		}
		err = runEngine(h)
	default:
		err = atScreen(*plain, stdin, stdout, runEngine)
	}
	if err != nil {
		return err
	}
	outcome := "finished"
	if *abort {
		outcome = "ended without finishing (aborted)"
	}
	fmt.Fprintf(stdout, "ceremony %s %s and sealed in %s\ncheck it with: keyceremony verify %s\n", p.Ceremony, outcome, p.OutputDir(), p.OutputDir())
	return nil
}

// crashTestHook is nil except in the crash tests, which stand between the engine and headless
// mode to kill the process at an exact point of the ceremony.
var crashTestHook func(ceremony.Interaction) ceremony.Interaction

// pinSource is where a headless run reads a PIN: an environment variable or a file.
type pinSource struct{ env, file string }

// read reads the PIN named what; flags are the flags that give it, for the hint.
func (src pinSource) read(what, needed, flags string) ([]byte, error) {
	switch {
	case src.env != "":
		v, ok := os.LookupEnv(src.env)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s holding the %s is not set", src.env, what)
		}
		return []byte(v), nil
	case src.file != "":
		b, err := os.ReadFile(src.file)
		if err != nil {
			return nil, fmt.Errorf("cannot read the %s file: %v", what, err)
		}
		pin := bytes.Clone(bytes.TrimRight(b, "\r\n"))
		clear(b)
		return pin, nil
	}
	return nil, fmt.Errorf("the %s is needed%s and this run is headless\nhint: pass %s", what, needed, flags)
}

func headlessSecrets(user, so pinSource) func(string) ([]byte, error) {
	return func(purpose string) ([]byte, error) {
		switch purpose {
		case "so-pin":
			return so.read("security officer PIN", " to mark the wrapping keys trusted", "--so-pin-env NAME or --so-pin-file PATH")
		case "user-pin":
			return user.read("user PIN", "", "--pin-env NAME or --pin-file PATH")
		}
		return nil, fmt.Errorf("a headless run cannot ask for %s\nhint: use delivery age-recipient for headless runs, or run on a terminal", purpose)
	}
}

// pkcs11Support is what --version says of this build.
const pkcs11Support = "with PKCS#11 (the ceremony build)"

// checkToken is the token part of plan check.
func checkToken(p *ceremony.Plan) (hsmspec.TokenInfo, hsmspec.Capabilities, error) {
	return p.CheckToken()
}
