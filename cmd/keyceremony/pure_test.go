package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pureBinary builds keyceremony without cgo, as an auditor's `go install` does, into dir.
func pureBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "keyceremony-pure")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	return bin
}

// runPure runs the pure binary in dir.
func runPure(t *testing.T, bin, dir string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// TestPureBuild checks the build without cgo: it does not link PKCS#11, it verifies, shows,
// reviews and inventories a folder the ceremony build made, and prints fingerprints of import
// parameters, exactly as the ceremony build does (tampering included), it refuses to run a ceremony with the reason, and --version says what
// `go version -m` reads from the same binary.
func TestPureBuild(t *testing.T) {
	list := exec.Command("go", "list", "-deps", ".")
	list.Env = append(os.Environ(), "CGO_ENABLED=0")
	deps, err := list.Output()
	if err != nil {
		t.Fatalf("CGO_ENABLED=0 go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(deps)) {
		if dep == "github.com/miekg/pkcs11" || dep == "github.com/keyceremony/keyceremony/hsm" {
			t.Errorf("the build without cgo depends on %s", dep)
		}
	}

	dir := t.TempDir()
	bin := pureBinary(t, dir)
	newTokens(t, dir, "test")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	const noPKCS11 = "keyceremony: this build has no PKCS#11 support\nkeyceremony: hint: build with cgo (CGO_ENABLED=1, gcc) on the ceremony workstation\n"
	if out, errOut, code := runPure(t, bin, dir, "run", "plan.yaml", "--yes"); code != 1 || out != "" || errOut != noPKCS11 {
		t.Errorf("run without cgo: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("run without cgo left an output folder: %v", err)
	}
	// plan check does everything but reach the token, and says why it could not.
	out, errOut, code := runPure(t, bin, dir, "plan", "check", "plan.yaml")
	if code != 0 || !strings.Contains(errOut, "keyceremony: warning: the token is not reachable from here: "+strings.TrimPrefix(noPKCS11, "keyceremony: ")) ||
		!strings.Contains(out, "Plan plan.yaml: a generate ceremony") {
		t.Errorf("plan check without cgo: exit %d\n%s%s", code, out, errOut)
	}

	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	args := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)
	if _, stderr, code := keyceremony(t, dir, args...); code != 0 {
		t.Fatalf("run (cgo build): exit %d\n%s", code, stderr)
	}

	same := func(args ...string) (string, int) {
		t.Helper()
		wantOut, wantErr, wantCode := keyceremony(t, dir, args...)
		out, errOut, code := runPure(t, bin, dir, args...)
		if out != wantOut || errOut != wantErr || code != wantCode {
			t.Errorf("%s: the build without cgo says (exit %d)\n%s%s\nthe ceremony build says (exit %d)\n%s%s",
				strings.Join(args, " "), code, out, errOut, wantCode, wantOut, wantErr)
		}
		return out + errOut, code
	}
	if out, code := same("verify", "out"); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	same("show", "out")
	same("review", "out") // line mode: stdin is not a terminal
	same("inventory", "out")

	// A check-in touches no HSM: the build without cgo runs it, and the ceremony build verifies it.
	share, _ := filepath.Glob(filepath.Join(dir, "out-handouts", "backup-*", "share-1-alice.age"))
	manifest, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*", "backup-manifest.json"))
	if len(share) != 1 || len(manifest) != 1 {
		t.Fatalf("the ceremony left %d share files of Alice and %d manifests", len(share), len(manifest))
	}
	plan := "version: 1\nkind: check-in\nceremony: pure-checkin\nparticipants: [{role: administrator, name: Ada}, {role: witness, name: Wendy}]\n" +
		"check_in: {manifest: " + manifest[0] + ", ceremonies: [out], custodians: [Alice]}\noutput: checkin\n"
	if err := os.WriteFile(filepath.Join(dir, "checkin.yaml"), []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runPure(t, bin, dir, "check-in", "checkin.yaml", "--yes", "--identity", filepath.Join(dir, "alice.key"), "--share", share[0]); code != 0 ||
		!strings.Contains(errOut, "ok: verified: share 1 (Alice) matches its commitment") {
		t.Fatalf("check-in without cgo: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, code := keyceremony(t, dir, "verify", "checkin"); code != 0 {
		t.Fatalf("verify of the check-in the build without cgo made: exit %d\n%s", code, out)
	}
	if out, code := same("fingerprint", "aws-params.json", "gcp-import-job.json", "azure-kek.publickey.pem"); code != 0 {
		t.Fatalf("fingerprint: exit %d\n%s", code, out)
	}

	// A changed package file is caught the same way.
	aws := filepath.Join(dir, "out", "targets", "aws", "EncryptedKeyMaterial.bin")
	b, err := os.ReadFile(aws)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	if err := os.WriteFile(aws, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := same("verify", "out"); code == 0 || !strings.Contains(out, "targets/aws/EncryptedKeyMaterial.bin") {
		t.Fatalf("verify of a changed package: exit %d\n%s", code, out)
	}

	// --version reports the build info that go version -m reads.
	out, _, _ = runPure(t, bin, dir, "--version")
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	mod := regexp.MustCompile(`(?m)^\tmod\tgithub.com/keyceremony/keyceremony\t(\S+)`).FindSubmatch(info)
	if mod == nil {
		t.Fatalf("go version -m names no main module:\n%s", info)
	}
	rev := "not recorded"
	if m := regexp.MustCompile(`(?m)^\tbuild\tvcs.revision=(\S+)`).FindSubmatch(info); m != nil {
		rev = string(m[1])
		if bytes.Contains(info, []byte("\tbuild\tvcs.modified=true")) {
			rev += "+modified"
		}
	}
	if want := "keyceremony " + string(mod[1]) + "\nrevision " + rev + "\n"; !strings.HasPrefix(out, want) ||
		!strings.HasSuffix(out, ", without PKCS#11 (the auditor's and the connected side's build)\n") {
		t.Errorf("--version without cgo:\n%s\nwant it to start with\n%s", out, want)
	}
}
