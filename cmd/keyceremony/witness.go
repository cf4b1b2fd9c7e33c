package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/ceremony/witness"
	"github.com/keyceremony/keyceremony/internal/readback"
)

const witnessSynopsis = "witness keygen NAME --out FILE [--unencrypted | --passphrase-env VAR]"

// cmdWitness makes a witness key: keyceremony witness keygen NAME --out FILE.
func cmdWitness(args []string, stdout, stderr io.Writer) error {
	if err := subcommand(args, "witness", "keygen", witnessSynopsis, stderr); err != nil {
		return err
	}
	fs := newFlags("witness keygen", witnessSynopsis, stderr)
	out := fs.String("out", "", "the private key file to write (refused if it exists; written readable by its owner alone)")
	unencrypted := fs.Bool("unencrypted", false, "write the private key in the clear, for storage that protects it elsewhere (a hardware token's file store)")
	passEnv := fs.String("passphrase-env", "", "read the passphrase from this environment variable instead of the terminal (tests, automation)")
	pos, err := parse(fs, args[1:], operands{"witness name", 1, 1})
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("witness keygen needs --out FILE, where the private key is written\nhint: keep it on the witness's own medium, not with the ceremony folder")
	}
	if *unencrypted && *passEnv != "" {
		return errors.New("--unencrypted and --passphrase-env contradict each other\nhint: choose one")
	}
	if _, err := os.Lstat(*out); err == nil {
		return fmt.Errorf("%s exists; a witness key is never overwritten\nhint: choose another file name", *out)
	}
	var pass []byte
	if !*unencrypted {
		if pass, err = newPassphrase(*passEnv, stderr); err != nil {
			return err
		}
		defer clear(pass)
	}
	skey, vkey, err := witness.GenerateKey(pos[0])
	if err != nil {
		return err
	}
	defer clear(skey)
	if err := witness.WriteKeyFile(*out, skey, pass, 0); err != nil {
		return err
	}
	v, _ := witness.ParseVerifier(vkey)
	how := "encrypted with your passphrase (age, scrypt)"
	if *unencrypted {
		how = "NOT encrypted: keep it where only you can use it"
	}
	fmt.Fprintf(stdout, "witness key %s written to %s, %s\n", v.Name, *out, how)
	fmt.Fprintf(stdout, "verifier key  %s\n", vkey)
	fmt.Fprintf(stdout, "fingerprint   %s\n", v.Fingerprint())
	fmt.Fprintf(stdout, "read back     %s\n", readback.Format(v.Fingerprint()))
	fmt.Fprintln(stdout, "Give the verifier key to the auditors (keyceremony verify --witness); they check it with you by its fingerprint.")
	return nil
}

// newPassphrase reads a new passphrase from the environment variable env, or typed twice on
// the terminal.
func newPassphrase(env string, stderr io.Writer) ([]byte, error) {
	if env != "" {
		return envSecret(env)
	}
	p, err := readSecret("Passphrase for the witness key (at least 12 characters): ", stderr)
	if err != nil {
		return nil, err
	}
	again, err := readSecret("The same passphrase again: ", stderr)
	defer clear(again)
	if err != nil {
		clear(p)
		return nil, err
	}
	if !bytes.Equal(p, again) {
		clear(p)
		return nil, errors.New("the two passphrases differ\nhint: run it again; nothing was written")
	}
	return p, nil
}

// envSecret reads a secret from the environment variable name.
func envSecret(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("the environment variable %s is not set\nhint: set it, or leave out --passphrase-env to type the passphrase", name)
	}
	return []byte(v), nil
}

// readSecret reads a line from the terminal without echo.
func readSecret(prompt string, stderr io.Writer) ([]byte, error) {
	if !isTerminal(os.Stdin) {
		return nil, errors.New("no terminal to type the passphrase on\nhint: run it on a terminal, or give --passphrase-env VAR")
	}
	fmt.Fprint(stderr, prompt)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return nil, fmt.Errorf("cannot read the passphrase: %v", err)
	}
	return p, nil
}

const cosignSynopsis = "cosign DIR (--key FILE | --ssh-key PATH --name NAME) [--passphrase-env VAR] [--yes]"

// cmdCosign adds a witness's cosignature to a verified ceremony folder's checkpoint.
func cmdCosign(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("cosign", cosignSynopsis, stderr)
	keyFile := fs.String("key", "", "the witness key file (keyceremony witness keygen)")
	sshKey := fs.String("ssh-key", "", "an SSH private key, or the public key of one held by ssh-agent (a FIDO2 sk key)")
	name := fs.String("name", "", "with --ssh-key: the witness's name, as the auditors' allowed-signers list has it")
	passEnv := fs.String("passphrase-env", "", "read the key file's passphrase from this environment variable")
	yes := fs.Bool("yes", false, "cosign without asking (the summary is still printed); for automation")
	pos, err := parse(fs, args, oneFolder)
	if err != nil {
		return err
	}
	dir := pos[0]
	switch {
	case (*keyFile == "") == (*sshKey == ""):
		return errors.New("cosign needs one key: --key FILE (a witness key) or --ssh-key PATH\nhint: make a witness key with keyceremony witness keygen")
	case *sshKey != "" && *name == "":
		return errors.New("cosign --ssh-key needs --name NAME, the witness's name in the auditors' allowed-signers list")
	case *keyFile != "" && *name != "":
		return errors.New("--name goes with --ssh-key; a witness key carries its own name")
	}
	removed, err := witness.RemoveLeftovers(dir)
	if err != nil {
		return fmt.Errorf("cannot remove the leftovers of an earlier cosign in %s: %v", dir, err)
	}
	for _, f := range removed {
		fmt.Fprintf(stdout, "removed %s, left by a cosign that was cut short\n", f)
	}
	r, err := witness.Verified(dir)
	if err != nil {
		return err
	}
	passphrase := func() ([]byte, error) {
		if *passEnv != "" {
			return envSecret(*passEnv)
		}
		return readSecret("Passphrase of "+cmp.Or(*keyFile, *sshKey)+": ", stderr)
	}
	var (
		who     string
		sign    func() error
		closeFn = func() {}
	)
	if *keyFile != "" {
		k, err := witness.ReadKeyFile(*keyFile, passphrase)
		if err != nil {
			return err
		}
		closeFn = k.Close
		v := k.Verifier()
		who = fmt.Sprintf("%s, witness key %s", v.Name, v.Fingerprint())
		sign = func() error { return witness.Cosign(dir, r.Checkpoint, k, time.Now()) }
	} else {
		s, err := witness.SSHSigner(*sshKey, passphrase)
		if err != nil {
			return err
		}
		who = fmt.Sprintf("%s, SSH key %s", *name, ssh.FingerprintSHA256(s.PublicKey()))
		sign = func() error { return witness.CosignSSH(dir, r.Checkpoint, *name, s) }
	}
	defer closeFn()
	printSummary(stdout, r, who)
	if *yes {
		fmt.Fprintln(stdout, "confirmed by --yes: no person compared the summary")
	} else if err := confirm(stdin, stdout); err != nil {
		return err
	}
	switch err := sign(); {
	case errors.Is(err, witness.ErrAlreadyCosigned):
		fmt.Fprintf(stdout, "already cosigned by %s; nothing changed\n", who)
		return nil
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "cosigned by %s\n", who)
	return nil
}

// printSummary shows what the witness compares with the paper log before cosigning.
func printSummary(w io.Writer, r transcript.Report, who string) {
	body := strings.Split(strings.TrimSuffix(r.Checkpoint, "\n"), "\n")
	head, _ := base64.StdEncoding.DecodeString(body[2])
	fmt.Fprintln(w, "The folder verifies. Compare this with the paper log:")
	fmt.Fprintf(w, "  ceremony     %s\n", body[0])
	fmt.Fprintf(w, "  events       %s\n", body[1])
	fmt.Fprintf(w, "  chain head   %s\n", readback.Format(hex.EncodeToString(head)))
	fmt.Fprintf(w, "  signing key  %s\n", readback.Format(r.Fingerprint))
	fmt.Fprintf(w, "               %s\n", r.Fingerprint)
	fmt.Fprintf(w, "  cosigned by  %d witness signature(s) so far\n", len(r.Cosignatures)+len(r.SSHSignatures))
	fmt.Fprintf(w, "You cosign as  %s\n", who)
}

// confirm asks the witness to type yes.
func confirm(stdin io.Reader, stdout io.Writer) error {
	fmt.Fprint(stdout, "Does it match the paper log? Type yes to cosign: ")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if f, ok := stdin.(*os.File); !ok || !isTerminal(f) {
		fmt.Fprintln(stdout) // the answer was not echoed: end the prompt's line
	}
	if strings.TrimSpace(line) == "yes" {
		return nil
	}
	if err != nil && line == "" {
		return errors.New("no answer: the input ended\nhint: nothing was cosigned; run it again on a terminal, or with --yes for automation")
	}
	return errors.New("not confirmed: nothing was cosigned\nhint: if the summary differs from the paper log, do not cosign; report it")
}
