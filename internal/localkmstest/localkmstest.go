// Package localkmstest runs github.com/nsmithuk/local-kms, a real AWS KMS API, on loopback for
// tests, and points the standard AWS configuration chain at it and nowhere else.
package localkmstest

import (
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// localKMSPath finds the pinned local-kms that scripts/setup installs.
func binary(t testing.TB) string {
	if p, err := exec.LookPath("local-kms"); err == nil {
		return p
	}
	p := filepath.Join(build.Default.GOPATH, "bin", "local-kms")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("local-kms is not on PATH nor at %s: these tests need it\nhint: run scripts/setup", p)
	}
	return p
}

// FreeLoopbackPort returns a port that was free on 127.0.0.1 a moment ago.
func FreeLoopbackPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// AWSEnv points the standard AWS configuration chain at static test credentials and empty
// config files, so that no request looks for credentials or endpoints beyond loopback.
func AWSEnv(t testing.TB) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDLOCAL",
		"AWS_SECRET_ACCESS_KEY":       "secretlocal",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_DEFAULT_PROFILE":         "",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_CONFIG_FILE":             empty,
		"AWS_SHARED_CREDENTIALS_FILE": empty,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_KMS":        "",
		"AWS_ENDPOINT_URL_STS":        "",
		"AWS_ROLE_ARN":                "",
		"AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_MAX_ATTEMPTS":            "1", // a refused connection is not retried with backoff
	} {
		t.Setenv(k, v)
	}
}

// Start runs local-kms with its own data folder on a free port, waits until it accepts
// connections on 127.0.0.1, stops it when the test ends, and returns its endpoint URL. local-kms
// binds all interfaces and has no option to bind one; the tests only ever talk to 127.0.0.1.
func Start(t testing.TB) string {
	bin := binary(t)
	dir := t.TempDir()
	port := strconv.Itoa(FreeLoopbackPort(t))
	logPath := filepath.Join(dir, "local-kms.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PORT="+port,
		"KMS_REGION=eu-west-2",
		"KMS_ACCOUNT_ID=111122223333",
		"KMS_DATA_PATH="+filepath.Join(dir, "data"),
		"KMS_SEED_PATH="+filepath.Join(dir, "no-seed.yaml"),
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting local-kms: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := net.JoinHostPort("127.0.0.1", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(logPath)
			t.Fatalf("local-kms exited before accepting connections (%v):\n%s", err, log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("local-kms did not accept connections on %s within 10 s:\n%s", addr, log)
		}
	}
}
