package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/internal/ocktest"
)

// cliEnv makes the test binary run as keyceremony (TestMain).
const cliEnv = "KEYCEREMONY_TEST_AS_CLI"

// keyceremonyProcess runs the CLI in dir as a child process, as keyceremony does in-process:
// opencryptoki 3.8 crashes (SIGSEGV in C_Initialize) when one process initialises it a third
// time, which the in-process runs of one test would.
func keyceremonyProcess(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

// editPlan applies literal replacements to dir/plan.yaml, each of which must apply.
func editPlan(t *testing.T, dir string, pairs ...string) {
	t.Helper()
	path := filepath.Join(dir, "plan.yaml")
	b, _ := os.ReadFile(path)
	s := string(b)
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("plan.yaml has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantLines checks that out has a line matching each pattern.
func wantLines(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(`(?m)` + p).MatchString(out) {
			t.Errorf("no line matches %s in\n%s", p, out)
		}
	}
}

// TestLadderSoftHSM2 runs plan check with AWS RSAES_OAEP_SHA_256 on SoftHSM2 and asserts what
// it gets per step and per target: the AWS target is refused (no OAEP with SHA-256, and a
// direct format cannot be host-assisted), the RSA-AES formats are composed in the token.
// TestOpencryptoki runs the same plan on opencryptoki.
func TestLadderSoftHSM2(t *testing.T) {
	dir := t.TempDir()
	newTokens(t, dir, "test")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	editPlan(t, dir, "algorithm: RSAES_OAEP_SHA_1", "algorithm: RSAES_OAEP_SHA_256")
	stdout, stderr, code := keyceremony(t, dir, "plan", "check", "plan.yaml")
	if code == 0 {
		t.Fatalf("plan check on SoftHSM2 passed RSAES_OAEP_SHA_256:\n%s", stdout)
	}
	wantLines(t, stdout,
		`^  signing key +ed25519: `,
		`^  custody +enforced: `,
		`^  backup +CKM_AES_KEY_WRAP_PAD: `,
		`^  target aws +refused: target "aws": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256, which RSAES_OAEP_SHA_256 needs; host-assisted wrapping cannot help`,
		`^  target gcp +composed-in-token: `,
		`^  target azure +composed-in-token: `)
	wantLines(t, stderr, `^keyceremony: target "aws": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256`)
}

// opencryptokiPlan turns the fixtures' plan into one the opencryptoki soft token can run: the
// AWS target with RSAES_OAEP_SHA_256 alone, and the exceptions it needs accepted by name.
func opencryptokiPlan(t *testing.T, dir, module string) {
	t.Helper()
	editPlan(t, dir,
		"module: /usr/lib/softhsm/libsofthsm2.so\n  token: test", "module: "+module+"\n  token: ock",
		"algorithm: RSAES_OAEP_SHA_1", "algorithm: RSAES_OAEP_SHA_256",
		"  - name: gcp\n", "output: out\n",
		"backup:\n  threshold: 2\n", "backup:\n  threshold: 2\n  allow_weaker_wrap: CKM_AES_CBC_PAD\n",
	)
	path := filepath.Join(dir, "plan.yaml")
	b, _ := os.ReadFile(path)
	s := string(b)
	s = s[:strings.Index(s, "output: out\n")] + // the gcp and azure targets go
		"custody:\n  target: destroy\n  allow_untrusted_wrap: true\n  allow_refused_attributes: [CKA_COPYABLE]\noutput: out\n"
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpencryptoki runs plan check with AWS RSAES_OAEP_SHA_256 on the opencryptoki soft token
// and asserts what it gets: an RSA-3072 PSS signing key, AWS wrapped natively, the RSA-AES
// formats and trusted wrapping refused. Then the ceremony, with every exception a plan can
// accept accepted, is still refused before anything is made in the token, because the token
// makes the keys it unwraps readable: the backup could be neither checked nor restored safely.
func TestOpencryptoki(t *testing.T) {
	dir := t.TempDir()
	module := ocktest.Token(t, "ock")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	// The fixtures' plan as it is, but for its token: what opencryptoki will do for each
	// target, and that it does not enforce trusted wrapping.
	editPlan(t, dir, "algorithm: RSAES_OAEP_SHA_1", "algorithm: RSAES_OAEP_SHA_256")
	editPlan(t, dir, "module: /usr/lib/softhsm/libsofthsm2.so\n  token: test", "module: "+module+"\n  token: ock")
	stdout, stderr, code := keyceremonyProcess(t, dir, "plan", "check", "plan.yaml")
	if code == 0 {
		t.Fatalf("plan check on opencryptoki passed a plan that does not accept its exceptions:\n%s", stdout)
	}
	wantLines(t, stdout,
		`^Token "ock" is reachable: IBM`,
		`^  signing key +rsa-pss-3072-sha256: the token lacks Ed25519 and ECDSA P-256; it does RSA-3072 with CKM_RSA_PKCS_PSS$`,
		`^  custody +refused: the token does not enforce CKA_WRAP_WITH_TRUSTED`,
		`^  backup +refused: the token makes a key it unwraps readable`,
		`^  target aws +native: the token does CKM_RSA_PKCS_OAEP with SHA-256$`,
		`^  target gcp +refused: .*neither CKM_RSA_AES_KEY_WRAP with SHA-1 nor CKM_AES_KEY_WRAP_PAD`,
		`^  target azure +refused: `)
	wantLines(t, stderr, `^keyceremony: the token does not enforce CKA_WRAP_WITH_TRUSTED`)

	// Every exception the plan can accept, accepted.
	os.Remove(filepath.Join(dir, "plan.yaml"))
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	opencryptokiPlan(t, dir, module)
	t.Setenv("KC_PIN", ocktest.PIN)
	t.Setenv("KC_SO_PIN", ocktest.SOPIN)
	stdout, _, code = keyceremonyProcess(t, dir, "plan", "check", "plan.yaml")
	if code == 0 {
		t.Fatalf("plan check passed:\n%s", stdout)
	}
	wantLines(t, stdout,
		`^  signing key +rsa-pss-3072-sha256: `,
		`^  custody +exception: this token cannot enforce trusted wrapping; the plan accepts target keys made without CKA_WRAP_WITH_TRUSTED, CKA_COPYABLE$`,
		`^  backup +refused: the token makes a key it unwraps readable whatever the template says \(C_UnwrapKey ignores CKA_SENSITIVE\)`,
		`^  target aws +native: the token does CKM_RSA_PKCS_OAEP with SHA-256$`)
	args := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)
	_, stderr, code = keyceremonyProcess(t, dir, args...)
	if code == 0 {
		t.Fatal("run on opencryptoki passed")
	}
	wantLines(t, stderr, `^keyceremony: the token makes a key it unwraps readable whatever the template says \(C_UnwrapKey ignores CKA_SENSITIVE\), so the backup could be neither checked nor restored in it without exposing the AES-256 key$`)
	if b, err := exec.Command("pkcs11-tool", "--module", module, "--token-label", "ock", "--login", "--pin", ocktest.PIN, "--list-objects").CombinedOutput(); err != nil || strings.Contains(string(b), "Object") {
		t.Errorf("the refused run left objects in the token (%v):\n%s", err, b)
	}
}
