// Package softhsmtest gives tests a fresh SoftHSM2 token in a temporary
// directory, so that tests of the PKCS#11 code run against a real token.
//
// SOFTHSM2_CONF is process-global, and NewToken sets it with t.Setenv, so
// tests using this package cannot call t.Parallel. A missing SoftHSM2 fails
// the test: scripts/setup installs it, and a skipped HSM test proves nothing.
package softhsmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyceremony/keyceremony/hsm"
)

const (
	Module = "/usr/lib/softhsm/libsofthsm2.so" // SoftHSM2's PKCS#11 module on Debian
	Label  = "softhsmtest"                     // the token Session makes
	PIN    = "1234"                            // user PIN of every token made here
	SOPIN  = "12345678"                        // security officer PIN
)

// NewToken initialises a token labelled label in a new SoftHSM2
// configuration under t.TempDir(), points SOFTHSM2_CONF at it, and returns
// the module path. Calling it again in the same test replaces the
// configuration, so earlier tokens are no longer visible.
func NewToken(t testing.TB, label string) (module string) {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatal("softhsmtest: softhsm2-util is not installed; run scripts/setup")
	}
	if _, err := os.Stat(Module); err != nil {
		t.Fatalf("softhsmtest: %s is missing; run scripts/setup", Module)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", SOPIN, "--pin", PIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsmtest: softhsm2-util --init-token: %v\n%s", err, out)
	}
	return Module
}

// Session makes a token labelled Label, opens the module, opens a session
// on the token and logs in as the user. Both are closed when the test ends.
func Session(t testing.TB) *hsm.Session {
	t.Helper()
	m, err := hsm.Open(NewToken(t, Label))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := m.OpenSession(Label)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Login(hsm.User, []byte(PIN)); err != nil {
		t.Fatal(err)
	}
	return s
}

// AsSecurityOfficer runs fn with the security officer logged in to s's
// token instead of the user, as a ceremony's trust step does: objects fn
// makes CKA_TRUSTED outlive the security officer's logout. The user is
// logged in again afterwards.
func AsSecurityOfficer(t testing.TB, s *hsm.Session, fn func()) {
	t.Helper()
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	if err := s.Login(hsm.SecurityOfficer, []byte(SOPIN)); err != nil {
		t.Fatal(err)
	}
	fn()
	if err := s.Logout(); err != nil {
		t.Fatal(err)
	}
	if err := s.Login(hsm.User, []byte(PIN)); err != nil {
		t.Fatal(err)
	}
}
