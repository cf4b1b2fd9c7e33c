// Command keyceremony runs BYOK key ceremonies: it generates key material in a PKCS#11 HSM, backs
// it up as Shamir shares held by a quorum of custodians, wraps it for cloud KMS import, and records
// every step in a signed transcript that auditors verify.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `Usage:
    keyceremony plan check PLAN            validate a plan and print its numbered script
    keyceremony run PLAN [flags]           run a ceremony (TUI on a terminal, line mode otherwise)
    keyceremony run --resume DIR [flags]   resume an interrupted ceremony from its transcript
    keyceremony run --abort DIR [flags]    end an interrupted ceremony cleanly and seal its record
    keyceremony verify [--fingerprint FP] DIR  check a ceremony's transcript, seal and artefacts
    keyceremony show DIR                   print a ceremony's transcript for a person
    keyceremony review DIR                 browse a transcript and its verification (auditors)
    keyceremony inventory DIR...           keys, backups, targets and rotation due, from transcripts
    keyceremony aws prepare [flags]        fetch AWS KMS import parameters (connected side)
    keyceremony fingerprint FILE...        the wrapping key fingerprint to print on the import request
    keyceremony upload PACKAGE [flags]     import a wrapped key package (connected side)
    keyceremony version

Run 'keyceremony COMMAND -h' for a command's flags.
`

func main() {
	disableCoreDumps()
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// errUsage marks a command line that could not be understood; the usage was already printed.
var errUsage = errors.New("usage")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "plan":
		err = cmdPlan(rest, stdout, stderr)
	case "run":
		err = cmdRun(rest, stdin, stdout, stderr)
	case "verify":
		err = cmdVerify(rest, stdout, stderr)
	case "show":
		err = cmdShow(rest, stdout, stderr)
	case "review":
		err = cmdReview(rest, stdout, stderr)
	case "inventory":
		err = cmdInventory(rest, stdout, stderr)
	case "aws":
		err = cmdAWS(rest, stdout, stderr)
	case "upload":
		err = cmdUpload(rest, stdout, stderr)
	case "fingerprint":
		err = cmdFingerprint(rest, stdout, stderr)
	case "version":
		err = cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "keyceremony: unknown command %q\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	printError(stderr, err)
	return 1
}

// printError prints an error as age does: every line prefixed, hints on their own lines.
func printError(w io.Writer, err error) {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(w, "keyceremony: %s\n", line)
	}
}

// newFlags makes a FlagSet whose usage goes to stderr and whose errors become errUsage.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: keyceremony %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string, nargs int) ([]string, error) {
	// Flags may follow the positional arguments, as users type them.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if nargs >= 0 && len(pos) != nargs {
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
