// Package ocktest gives tests the opencryptoki soft token, a second real PKCS#11
// implementation beside SoftHSM2 that differs where it matters (no EC keys, no AES key
// wrap, OAEP with SHA-256, no CKA_WRAP_WITH_TRUSTED), so that the capability probe, not a
// vendor list, is seen to decide.
//
// opencryptoki keeps one soft token per machine, in /var/lib/opencryptoki/swtok, behind the
// pkcsslotd daemon. Token takes a file lock so that tests using it, in any package, run one at
// a time, wipes and initialises the token, and starts pkcsslotd if it is not running (stopping
// it, by its pid, when the test ends). A missing or broken opencryptoki fails the test with the
// reason: scripts/setup installs and configures it, and a skipped test proves nothing.
package ocktest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	Slot  = 3          // the software token's slot, as scripts/setup configures it
	PIN   = "1234"     // user PIN of the token Token makes
	SOPIN = "12345678" // its security officer PIN

	defaultSOPIN = "87654321" // what a freshly initialised opencryptoki token has
	tokenDir     = "/var/lib/opencryptoki/swtok"
	conf         = "/etc/opencryptoki/opencryptoki.conf"
	pidFile      = "/var/run/pkcsslotd.pid"
	lockFile     = "/run/lock/keyceremony-opencryptoki.lock"
)

// Module is the path of opencryptoki's PKCS#11 module, or "" when it is not installed.
func Module() string {
	m, _ := filepath.Glob("/usr/lib/*/opencryptoki/libopencryptoki.so.0")
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// Token makes the machine's opencryptoki soft token a fresh one labelled label, with SOPIN and
// PIN, for this test alone, and returns the module path.
func Token(t testing.TB, label string) string {
	t.Helper()
	module := Module()
	for _, need := range []struct {
		ok   bool
		what string
	}{
		{module != "", "its PKCS#11 module (/usr/lib/*/opencryptoki/libopencryptoki.so.0)"},
		{exists("/usr/sbin/pkcsslotd"), "/usr/sbin/pkcsslotd"},
		{lookPath("pkcsconf"), "pkcsconf"},
		{lookPath("pkcs11-tool"), "pkcs11-tool"},
	} {
		if !need.ok {
			t.Fatalf("ocktest: opencryptoki is not installed: %s is missing; run scripts/setup (as root, or with sudo)", need.what)
		}
	}
	if b, err := os.ReadFile(conf); err != nil || !strings.Contains(string(b), "libpkcs11_sw.so") {
		t.Fatalf("ocktest: %s does not configure the software token in slot %d; run scripts/setup", conf, Slot)
	}
	lock, err := os.OpenFile(lockFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("ocktest: the lock that runs opencryptoki tests one at a time: %v (tests using opencryptoki run as root, as CI does)", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("ocktest: lock %s: %v", lockFile, err)
	}
	t.Cleanup(func() { lock.Close() }) // closing releases the lock; registered first, so it runs last
	if running() == 0 {
		if out, err := exec.Command("/usr/sbin/pkcsslotd").CombinedOutput(); err != nil {
			t.Fatalf("ocktest: start pkcsslotd: %v: %s", err, out)
		}
		pid := running()
		if pid == 0 {
			t.Fatalf("ocktest: pkcsslotd did not start (no live pid in %s)", pidFile)
		}
		t.Cleanup(func() { stop(t, pid) })
	}
	// Wiping the token's files is the only way back to a token nobody initialised: C_InitToken
	// needs the SO PIN of the last test, which may have crashed half way.
	// The folders stay, with the owner and group opencryptoki gave them.
	for _, dir := range []string{tokenDir, filepath.Join(tokenDir, "TOK_OBJ")} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatalf("ocktest: wipe the token: %v", err)
			}
		}
	}
	if !exists(filepath.Join(tokenDir, "TOK_OBJ")) {
		t.Fatalf("ocktest: %s is missing; reinstall opencryptoki (scripts/setup)", filepath.Join(tokenDir, "TOK_OBJ"))
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("ocktest: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
		}
	}
	slot := strconv.Itoa(Slot)
	run("pkcs11-tool", "--module", module, "--slot", slot, "--init-token", "--label", label, "--so-pin", defaultSOPIN)
	run("pkcsconf", "-c", slot, "-P", "-S", defaultSOPIN, "-n", SOPIN) // opencryptoki refuses to go on with the default SO PIN
	run("pkcs11-tool", "--module", module, "--slot", slot, "--login", "--login-type", "so", "--so-pin", SOPIN, "--init-pin", "--pin", PIN)
	return module
}

// running is the pid of a live pkcsslotd, or 0.
func running() int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "pkcsslotd" {
		return 0
	}
	return pid
}

// stop ends the pkcsslotd this package started, by its pid, and waits for it to go.
func stop(t testing.TB, pid int) {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ocktest: stop pkcsslotd (pid %d): %v", pid, err)
		return
	}
	for range 100 {
		if running() != pid {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("ocktest: pkcsslotd (pid %d) did not stop", pid)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func lookPath(name string) bool { _, err := exec.LookPath(name); return err == nil }
