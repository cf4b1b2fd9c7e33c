package hsm_test

import (
	"os/exec"
	"testing"

	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// TestUnnamed counts what a kill inside C_GenerateKey leaves in SoftHSM2, a key with neither
// label nor CKA_ID (planted here with pkcs11-tool), and not the keys a ceremony makes: labelled
// keys, their public halves, session keys, or the capability probe's scratch keys (one of them,
// not modifiable, cannot be destroyed before its session closes).
func TestUnnamed(t *testing.T) {
	s := softhsmtest.Session(t)
	s.Capabilities()
	generate(t, s, "labelled", "AES-256")
	generate(t, s, "pair", "EC P-256")
	if _, err := s.GenerateSessionAES(256, false); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Unnamed(); n != 0 || err != nil {
		t.Fatalf("Unnamed = %d, %v before anything was planted", n, err)
	}
	out, err := exec.Command("pkcs11-tool", "--module", softhsmtest.Module, "--token-label", softhsmtest.Label,
		"--login", "--pin", softhsmtest.PIN, "--keygen", "--key-type", "AES:32").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v: %s", err, out)
	}
	if n, err := s.Unnamed(); n != 1 || err != nil {
		t.Errorf("Unnamed = %d, %v with one unlabelled key planted", n, err)
	}
}
