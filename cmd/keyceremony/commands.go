package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/ceremony/witness"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/machine"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/spki"
	"github.com/keyceremony/keyceremony/internal/version"
	"github.com/keyceremony/keyceremony/paper"
	"github.com/keyceremony/keyceremony/ui"
	"github.com/keyceremony/keyceremony/upload"
	"github.com/keyceremony/keyceremony/wrap"
)

func cmdVersion(stdout io.Writer) error {
	fmt.Fprintf(stdout, "keyceremony %s\nrevision %s\n%s, %s\n", version.Version, cmp.Or(version.Revision, "not recorded"),
		version.Platform, pkcs11Support)
	return nil
}

func cmdPlan(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "print" {
		return cmdPlanPrint(args[1:], stdout, stderr)
	}
	if err := subcommand(args, "plan", "check or print", "plan check PLAN | plan print PLAN --out FILE.pdf", stderr); err != nil {
		return err
	}
	fs := newFlags("plan check", "plan check PLAN [--history DIR...]", stderr)
	var history multiFlag
	fs.Var(&history, "history", "a rotation (kind: rotate): a folder of the ceremonies of the keys it rotates, or a ceremony folder; every one must verify (repeatable)")
	pos, err := parse(fs, args[1:], operands{"plan", 1, 1})
	if err != nil {
		return err
	}
	p, err := ceremony.LoadPlan(pos[0])
	if err != nil {
		return err
	}
	p.SetHistory(history)
	if p.Kind == ceremony.KindCheckIn {
		m, err := p.CheckCheckIn()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Plan %s: a check-in of backup set %s (%d of %d), custodians expected: %s\nIt touches no HSM: each share is checked against its commitment, never combined.\n\n%s\nOutput folder: %s\nPlan SHA-256: %s\n",
			pos[0], m.SetID, m.M, m.N, strings.Join(p.CheckIn.Custodians, ", "), ceremony.FormatScript(p.Script()), p.OutputDir(), p.SHA256())
		return nil
	}
	warnings, err := p.Check(time.Now())
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "keyceremony: warning: %s\n", w)
	}
	// The plan may be checked away from the workstation: a machine it rules out is a warning here.
	if err := p.RequireMachine(machine.Host()); err != nil {
		fmt.Fprintf(stderr, "keyceremony: warning: on this machine the ceremony would not start: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nkeyceremony: "))
	}
	// The preflight the ceremony runs before it touches the token, as far as it can be run here.
	world := ceremony.World{Now: time.Now()}
	if tok, caps, err := checkToken(p); err != nil {
		fmt.Fprintf(stderr, "keyceremony: warning: the token is not reachable from here: %s\n", strings.ReplaceAll(err.Error(), "\n", "\nkeyceremony: "))
	} else {
		fmt.Fprintf(stdout, "Token %q is reachable: %s %s, serial %s\n", tok.Label, tok.Manufacturer, tok.Model, tok.Serial)
		world.Capabilities = &caps
		fmt.Fprintf(stdout, "What this token will do:\n")
		for _, l := range p.Ladder(caps) {
			fmt.Fprintf(stdout, "  %s\n", l)
		}
	}
	notChecked, err := p.Preflight(world)
	if err != nil {
		return err
	}
	for _, n := range notChecked {
		fmt.Fprintf(stdout, "Not checked here: %s\n", n)
	}
	for _, l := range p.RotationSummary() {
		fmt.Fprintf(stdout, "Rotation: %s\n", l)
	}
	fmt.Fprintf(stdout, "Plan %s: a %s ceremony, %s\nIt will:\n\n%s", pos[0], p.Kind, p.Ceremony, ceremony.FormatScript(p.Script()))
	fmt.Fprintf(stdout, "\nOutput folder: %s\n", p.OutputDir())
	if h := p.HandoutsDir(); h != "" {
		fmt.Fprintf(stdout, "Handouts folder: %s (share files for the custodians to take away; not part of the record)\n", h)
	}
	fmt.Fprintf(stdout, "Plan SHA-256: %s\n", p.SHA256())
	return nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func cmdVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", "verify [--fingerprint SHA256:HEX] [--allow-extra] [--witness VKEY... | --witnesses FILE] [--quorum K] DIR", stderr)
	pin := fs.String("fingerprint", "", "the ceremony signing key fingerprint the witnesses wrote down (at least its first 32 hex digits, 128 bits); the transcript must be signed by that key")
	allowExtra := fs.Bool("allow-extra", false, "list files no signed event names as warnings instead of failing (for a folder an archive tool added files to)")
	w := addWitnessFlags(fs)
	pos, err := parse(fs, args, oneFolder)
	if err != nil {
		return err
	}
	if err := w.load(); err != nil {
		return err
	}
	var want string
	if *pin != "" {
		if want, err = fingerprintPrefix(*pin); err != nil {
			return err
		}
	}
	r := transcript.VerifyWith(pos[0], transcript.Options{AllowExtra: *allowExtra})
	if !r.OK {
		for _, l := range r.Lines {
			fmt.Fprintln(stdout, l)
		}
		return fmt.Errorf("verification failed: %s", r.Problem)
	}
	// The transcript's own verdict is the last of its lines; it is held back until the
	// attestations, the fingerprint and the witnesses are checked, so that the one verdict
	// printed is last and is the whole answer.
	verdict := r.Lines[len(r.Lines)-1]
	for _, l := range r.Lines[:len(r.Lines)-1] {
		fmt.Fprintln(stdout, l)
	}
	fmt.Fprintln(stdout, ceremony.EndState(r.Chain))
	fail := func(err error) error {
		fmt.Fprintln(stdout, "FAIL: "+strings.SplitN(err.Error(), "\n", 2)[0])
		return err
	}
	attested, err := ceremony.Attestations(pos[0], r.Chain)
	for _, l := range attested {
		fmt.Fprintln(stdout, l)
	}
	if err != nil {
		return fail(fmt.Errorf("verification failed: %v\nhint: do not upload that target's package until this is understood (docs/attestation.md)", err))
	}
	if want != "" {
		if !strings.HasPrefix(strings.TrimPrefix(r.Fingerprint, "SHA256:"), want) {
			return fail(fmt.Errorf("the transcript is signed by %s, not by the key the witnesses wrote down (%s)\nhint: the whole folder may have been re-signed; do not trust it", r.Fingerprint, *pin))
		}
		fmt.Fprintf(stdout, "signing key matches the fingerprint the witnesses wrote down (%d of its 64 hex digits)\n", len(want))
	}
	if w.list.Len() > 0 {
		o := witness.Check(pos[0], r, &w.list, w.quorum)
		for _, l := range o.Lines {
			fmt.Fprintln(stdout, l)
		}
		if !o.OK {
			return fail(fmt.Errorf("verification failed: %s\nhint: each witness cosigns with keyceremony cosign; a cosignature named above as unknown or invalid does not count", o.Reason))
		}
	}
	fmt.Fprintln(stdout, verdict)
	return nil
}

// witnessFlags are the witnesses a command checks the cosignatures of a folder against: --witness
// once for each, or --witnesses FILE, and --quorum.
type witnessFlags struct {
	list   witness.List
	file   *string
	quorum int
}

func addWitnessFlags(fs *flag.FlagSet) *witnessFlags {
	w := &witnessFlags{}
	fs.Func("witness", "a witness: its verifier key (NAME+ID+KEY) or an SSH allowed-signers line; once for each", w.list.Add)
	w.file = fs.String("witnesses", "", "a file of witnesses, one verifier key or allowed-signers line each")
	fs.IntVar(&w.quorum, "quorum", 0, "how many listed witnesses must have cosigned the seal (default: all of them)")
	return w
}

// load reads the witness file, if one was given, and checks the quorum against the list.
func (w *witnessFlags) load() error {
	if *w.file != "" {
		if err := readWitnesses(*w.file, &w.list); err != nil {
			return err
		}
	}
	switch {
	case w.quorum != 0 && w.list.Len() == 0:
		return errors.New("--quorum needs the witnesses: --witness VKEY for each, or --witnesses FILE")
	case w.quorum < 0 || w.quorum > w.list.Len():
		return fmt.Errorf("--quorum %d is not a number from 1 to %d (the witnesses listed)", w.quorum, w.list.Len())
	case w.quorum == 0:
		w.quorum = w.list.Len()
	}
	return nil
}

// readWitnesses reads a witness list file into l.
func readWitnesses(path string, l *witness.List) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read the witness list: %v", err)
	}
	defer f.Close()
	return witness.ReadList(f, path, l)
}

// minFingerprintDigits is how much of the signing key fingerprint --fingerprint needs: 128 bits,
// beyond the reach of grinding a key to match.
const minFingerprintDigits = 32

// fingerprintPrefix reads a signing key fingerprint as a witness wrote it down: "SHA256:<hex>"
// or the hex alone, whole or its first digits (at least 32), case and spaces ignored, or its
// read-back form ("3fa2-k 91c0-x ...", 128 bits).
func fingerprintPrefix(s string) (string, error) {
	hex := strings.ToLower(strings.Join(strings.Fields(s), ""))
	hex = strings.TrimPrefix(hex, "sha256:")
	if strings.Trim(hex, "0123456789abcdef") != "" && len(strings.ReplaceAll(hex, "-", "")) == readback.Groups*(readback.GroupDigits+1) {
		// The read-back form the witness typed back at the ceremony: its check letters are checked.
		digits, err := readback.Digits(s)
		if err != nil {
			return "", fmt.Errorf("--fingerprint %v\nhint: check what was typed against the paper log", err)
		}
		return digits, nil
	}
	if strings.Trim(hex, "0123456789abcdef") != "" {
		return "", fmt.Errorf("--fingerprint %q is not a fingerprint\nhint: give the signing key fingerprint as the witnesses wrote it: SHA256: and hex digits", s)
	}
	if len(hex) > 64 {
		return "", fmt.Errorf("--fingerprint has %d hex digits; a SHA-256 fingerprint has 64\nhint: check what was typed against the paper log", len(hex))
	}
	if len(hex) < minFingerprintDigits {
		return "", fmt.Errorf("--fingerprint has %d hex digits; give at least %d (128 bits) of the signing key fingerprint\nhint: fewer digits can be matched by a key made to look alike", len(hex), minFingerprintDigits)
	}
	return hex, nil
}

func cmdShow(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", "show [--allow-extra] DIR", stderr)
	allowExtra := fs.Bool("allow-extra", false, "as verify --allow-extra")
	pos, err := parse(fs, args, oneFolder)
	if err != nil {
		return err
	}
	r := transcript.VerifyWith(pos[0], transcript.Options{AllowExtra: *allowExtra})
	if r.OK {
		if err := transcript.Show(stdout, r.Chain); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%s\n", ceremony.EndState(r.Chain))
		return nil
	}
	// The events as they are, between two banners, so nobody takes them for proven.
	fmt.Fprintf(stdout, "%s\n\n", r.Banner())
	if events, err := transcript.Read(pos[0]); err == nil {
		if err := transcript.Show(stdout, events); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%s\n", r.Banner())
	}
	return fmt.Errorf("verification failed: %s\nhint: nothing shown is proven; run keyceremony verify %s for the report", r.Problem, pos[0])
}

func cmdReview(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("review", "review DIR", stderr)
	pos, err := parse(fs, args, oneFolder)
	if err != nil {
		return err
	}
	if ui.ChooseMode(os.LookupEnv, isTerminal(os.Stdin), isTerminal(os.Stdout)) == ui.ModeLines {
		return ui.ReviewLines(stdout, pos[0])
	}
	return ui.Review(pos[0], ui.Options{})
}

func cmdAWS(args []string, stdout, stderr io.Writer) error {
	const synopsis = "aws prepare (--key-id ID | --create [--description TEXT]) --wrapping-algorithm ALG --wrapping-key-spec SPEC --out FILE"
	if err := subcommand(args, "aws", "prepare", synopsis, stderr); err != nil {
		return err
	}
	fs := newFlags("aws prepare", synopsis, stderr)
	var o upload.PrepareOptions
	fs.StringVar(&o.KeyID, "key-id", "", "existing KMS key (Origin EXTERNAL) to fetch import parameters for")
	fs.BoolVar(&o.Create, "create", false, "create a new KMS key with Origin EXTERNAL first")
	fs.StringVar(&o.Description, "description", "", "description of the created key")
	fs.StringVar(&o.WrappingAlgorithm, "wrapping-algorithm", "", "RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256")
	fs.StringVar(&o.WrappingKeySpec, "wrapping-key-spec", "", "RSA_2048, RSA_3072 or RSA_4096")
	fs.StringVar(&o.Out, "out", "", "file to write the import parameters to (must not exist)")
	endpoint := fs.String("endpoint-url", "", "KMS endpoint (emulators, VPC endpoints)")
	region := fs.String("region", "", "AWS region (default: from the AWS configuration)")
	if _, err := parse(fs, args[1:], noneTaken); err != nil {
		return err
	}
	ctx := context.Background()
	kmsClient, _, err := upload.NewClients(ctx, *endpoint, *region)
	if err != nil {
		return err
	}
	res, err := upload.Prepare(ctx, kmsClient, o)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res.Summary())
	return nil
}

// cmdFingerprint prints, for each import parameters or public key file, the wrapping key
// fingerprint in full and in its read-back form: what goes on the printed import request that a
// witness checks the ceremony's screen against.
func cmdFingerprint(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("fingerprint", "fingerprint FILE... [--pdf OUT.pdf]", stderr)
	pdf := fs.String("pdf", "", "also write the printed import request sheet to this PDF (it must not exist)")
	files, err := parse(fs, args, operands{"file", 1, -1})
	if err != nil {
		return err
	}
	var keys []paper.WrappingKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("cannot read %s: %v", f, err)
		}
		der, what, err := wrap.WrappingKey(b)
		if err != nil {
			return fmt.Errorf("%s: %v\nhint: give the file the cloud's CLI wrote (the one the plan's params or public_key names)", f, err)
		}
		fp := spki.Fingerprint(der)
		fmt.Fprintf(stdout, "%s (%s)\n  wrapping key  %s\n  read back     %s\n", f, what, fp, readback.Format(fp))
		keys = append(keys, paper.WrappingKey{File: f, What: what, Fingerprint: fp, ReadBack: readback.Format(fp)})
	}
	if *pdf == "" {
		return nil
	}
	b, err := paper.ImportRequest(keys)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteOnce(*pdf, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote the printed import request to %s\n", *pdf)
	return nil
}

func cmdUpload(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("upload", "upload PACKAGE [--transcript DIR] [--fingerprint FP] [--endpoint-url URL] [--region REGION]", stderr)
	var rec upload.Record
	fs.StringVar(&rec.Dir, "transcript", "", "the ceremony folder whose signed record names the package (default: the one the package is in)")
	fs.StringVar(&rec.Fingerprint, "fingerprint", "", "the ceremony signing key fingerprint the witnesses wrote down (at least 32 hex digits, or its read-back form)")
	endpoint := fs.String("endpoint-url", "", "KMS endpoint (emulators, VPC endpoints)")
	region := fs.String("region", "", "AWS region (default: from the AWS configuration)")
	pos, err := parse(fs, args, operands{"package", 1, 1})
	if err != nil {
		return err
	}
	ctx := context.Background()
	text, err := upload.Run(ctx, pos[0], rec, *endpoint, *region, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, text)
	return nil
}

func cmdInventory(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("inventory", "inventory [--json] [--fail-on due,at-risk] [--rotate-after DAYS] [--check-in-interval DAYS] DIR...", stderr)
	days := fs.Int("rotate-after", 365, "days after which a key is due for rotation")
	interval := fs.Int("check-in-interval", ceremony.DefaultCheckInInterval, "days within which each holder should check in, for sets whose check-in plans set none")
	warn := fs.Int("reimport-warn", 30, "days before AWS key material expires that its re-import is due")
	asJSON := fs.Bool("json", false, "print the inventory as JSON (schema: docs/lifecycle.md)")
	failOn := fs.String("fail-on", "", "exit 1 when something is flagged: due (rotation, re-import, a holder's check-in), at-risk (a quorum), or both, comma-separated")
	nowFlag := fs.String("now", "", "judge at this RFC 3339 time instead of now (to see what will be due)")
	var witnesses witness.List
	fs.Func("check-in-witness", "count a check-in only when this witness cosigned it: its verifier key or an SSH allowed-signers line; once for each", witnesses.Add)
	witnessFile := fs.String("check-in-witnesses", "", "a file of the witnesses whose cosignatures a check-in needs, one verifier key or allowed-signers line each")
	quorum := fs.Int("check-in-quorum", 0, "how many of those witnesses must have cosigned a check-in (default: all of them)")
	pos, err := parse(fs, args, operands{"folder", 1, -1})
	if err != nil {
		return err
	}
	if *witnessFile != "" {
		if err := readWitnesses(*witnessFile, &witnesses); err != nil {
			return err
		}
	}
	switch {
	case *quorum != 0 && witnesses.Len() == 0:
		return errors.New("--check-in-quorum needs the witnesses: --check-in-witness VKEY for each, or --check-in-witnesses FILE")
	case *quorum < 0 || *quorum > witnesses.Len():
		return fmt.Errorf("--check-in-quorum %d is not a number from 1 to %d (the witnesses listed)", *quorum, witnesses.Len())
	case *quorum == 0:
		*quorum = witnesses.Len()
	}
	var cosigned func(string, transcript.Report) error
	if witnesses.Len() > 0 {
		cosigned = func(dir string, r transcript.Report) error {
			if o := witness.Check(dir, r, &witnesses, *quorum); !o.OK {
				return errors.New(o.Reason)
			}
			return nil
		}
	}
	var kinds []string
	if *failOn != "" {
		kinds = strings.Split(*failOn, ",")
		for _, k := range kinds {
			if k != "due" && k != "at-risk" {
				return fmt.Errorf("--fail-on %q: %q is not due or at-risk\nhint: e.g. --fail-on due,at-risk", *failOn, k)
			}
		}
	}
	now := time.Now()
	if *nowFlag != "" {
		if now, err = time.Parse(time.RFC3339, *nowFlag); err != nil {
			return fmt.Errorf("--now %q is not an RFC 3339 time\nhint: e.g. 2027-11-29T00:00:00Z", *nowFlag)
		}
	}
	inv, err := ceremony.InventoryWith(cosigned, pos...)
	if err != nil {
		return err
	}
	inv.Assess(ceremony.Policy{Now: now, RotateAfter: *days, CheckInInterval: *interval, ReimportWarn: *warn})
	if *asJSON {
		if err := ceremony.WriteInventoryJSON(stdout, inv); err != nil {
			return err
		}
	} else {
		ceremony.WriteInventory(stdout, inv)
	}
	if f := inv.Failures(kinds); len(f) > 0 {
		return fmt.Errorf("inventory: %d flagged (--fail-on %s):\n%s\nhint: rotate, re-import or call the holders to a check-in before the dates above", len(f), *failOn, strings.Join(f, "\n"))
	}
	return nil
}
