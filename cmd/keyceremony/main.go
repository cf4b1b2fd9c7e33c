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
	"slices"
	"strings"

	"github.com/keyceremony/keyceremony/internal/errs"
)

const usage = `Usage:
    keyceremony plan check PLAN            validate a plan and print its numbered script
    keyceremony plan print PLAN --out F    the printed runbook: script, checkboxes, sign-off pages (PDF)
    keyceremony run PLAN [flags]           run a ceremony (TUI on a terminal, line mode otherwise)
    keyceremony run --resume DIR [flags]   resume an interrupted ceremony from its transcript
    keyceremony run --abort DIR [flags]    end an interrupted ceremony cleanly and seal its record
    keyceremony verify [--fingerprint FP] DIR  check a ceremony's transcript, seal and artefacts
                 [--witness VKEY]... [--quorum K]  and that K listed witnesses cosigned the seal
    keyceremony witness keygen NAME --out FILE  make a witness key; prints its verifier key
    keyceremony cosign DIR --key FILE      a witness cosigns a verified ceremony's seal
    keyceremony show DIR                   print a ceremony's transcript for a person
    keyceremony review DIR                 browse a transcript and its verification (auditors)
    keyceremony check-in PLAN [flags]      custodians prove they hold their shares (no HSM)
    keyceremony inventory DIR...           keys, backups, check-ins, targets and what is due
    keyceremony report DIR --out F         the auditor's report (PDF): verdict, keys, sets, packages, timeline
    keyceremony aws prepare [flags]        fetch AWS KMS import parameters (connected side)
    keyceremony fingerprint FILE... [--pdf F] the wrapping key fingerprint to print on the import request
    keyceremony attestation check JOB      check a Google Cloud import job's HSM attestation offline
    keyceremony upload PACKAGE [flags]     import a wrapped key package (connected side)
    keyceremony version | --version        the module version, VCS revision and build
    keyceremony help COMMAND               a command's usage and flags (the same as COMMAND -h)

The ceremony uses a full-screen interface on a terminal; 'run --plain' (or ACCESSIBLE=1) gives
plain line prompts for screen readers and pipes, and NO_COLOR=1 turns colour off.
Press ? on any screen of the interface for its keys.
`

// commands are the command names, with their subcommands, for "did you mean".
var commands = []string{"plan check", "plan print", "run", "verify", "witness keygen", "cosign", "show", "review", "check-in", "inventory", "report", "aws prepare", "fingerprint", "attestation check", "upload", "version", "help"}

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
	if args[0] == "help" && len(args) > 1 {
		// "help CMD" is "CMD -h", so the two can never drift apart.
		args = append(args[1:len(args):len(args)], "-h")
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "plan":
		err = cmdPlan(rest, stdout, stderr)
	case "run":
		err = cmdRun(rest, stdin, stdout, stderr)
	case "verify":
		err = cmdVerify(rest, stdout, stderr)
	case "witness":
		err = cmdWitness(rest, stdout, stderr)
	case "cosign":
		err = cmdCosign(rest, stdin, stdout, stderr)
	case "show":
		err = cmdShow(rest, stdout, stderr)
	case "review":
		err = cmdReview(rest, stdout, stderr)
	case "check-in":
		err = cmdCheckIn(rest, stdin, stdout, stderr)
	case "inventory":
		err = cmdInventory(rest, stdout, stderr)
	case "aws":
		err = cmdAWS(rest, stdout, stderr)
	case "upload":
		err = cmdUpload(rest, stdout, stderr)
	case "report":
		err = cmdReport(rest, stdout, stderr)
	case "fingerprint":
		err = cmdFingerprint(rest, stdout, stderr)
	case "attestation":
		err = cmdAttestation(rest, stdout, stderr)
	case "version", "--version":
		err = cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "keyceremony: unknown command %q%s\n%s", cmd, didYouMean(cmd), usage)
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

// printError prints an error as age does: every line prefixed, the hint on its own line. An
// [errs.Error] is printed from its fields: what happened and what changed, then what to do.
func printError(w io.Writer, err error) {
	text, hint, changed, _ := errs.Parts(err)
	if changed != "" {
		text += "; " + changed
	}
	if hint != "" {
		text += "\nhint: " + hint
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
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

// operands says what a command takes after its flags: min to max (-1: no limit) of noun.
type operands struct {
	noun     string
	min, max int
}

var (
	oneFolder = operands{"folder", 1, 1}
	noneTaken = operands{"", 0, 0}
)

// reason is the one line said before the usage when the operands do not fit: "verify takes one
// folder, got 2".
func (o operands) reason(cmd string, got int) string {
	n := "none"
	if got > 0 {
		n = fmt.Sprint(got)
	}
	switch {
	case o.max == 0:
		return fmt.Sprintf("%s takes no arguments, got %s", cmd, n)
	case o.max < 0:
		return fmt.Sprintf("%s takes one or more %ss, got %s", cmd, o.noun, n)
	}
	return fmt.Sprintf("%s takes one %s, got %s", cmd, o.noun, n)
}

// parse reads flags and operands; flags may follow the operands, as users type them. A count of
// operands that does not fit is said in one line before the usage.
func parse(fs *flag.FlagSet, args []string, want operands) ([]string, error) {
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
	if len(pos) < want.min || want.max >= 0 && len(pos) > want.max {
		fmt.Fprintf(fs.Output(), "keyceremony: %s\n", want.reason(fs.Name(), len(pos)))
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
}

// subcommand checks the subcommand of a command that has one (plan check, aws prepare): a
// missing or misspelt one is said before the usage, with the nearest one.
func subcommand(args []string, cmd, sub, synopsis string, stderr io.Writer) error {
	switch {
	case len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help"):
		fmt.Fprintf(stderr, "Usage: keyceremony %s\n", synopsis)
		return flag.ErrHelp
	case len(args) == 0:
		fmt.Fprintf(stderr, "keyceremony: %s needs a subcommand: %s\n", cmd, sub)
	case !slices.Contains(strings.Split(sub, " or "), args[0]):
		fmt.Fprintf(stderr, "keyceremony: unknown subcommand %q%s\n", cmd+" "+args[0], didYouMean(cmd+" "+args[0]))
	default:
		return nil
	}
	fmt.Fprintf(stderr, "Usage: keyceremony %s\n", synopsis)
	return errUsage
}

// didYouMean names the command nearest to what was typed, as git does, when it is near enough
// to be a slip: at most 2 edits, and fewer than half the letters. A command typed alone is
// compared with the first word of each.
func didYouMean(typed string) string {
	best, dist := "", 3
	for _, c := range commands {
		name := c
		if !strings.Contains(typed, " ") {
			name, _, _ = strings.Cut(c, " ")
		}
		if d := editDistance(typed, name); d < dist && 2*d < len(name) {
			best, dist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
