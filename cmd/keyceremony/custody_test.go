package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/internal/kwp"
)

// insiderTool runs OpenSC's pkcs11-tool on the test token with the user PIN, as anyone holding
// the PIN could after the ceremony.
func insiderTool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("pkcs11-tool", append([]string{"--module", softhsmModule, "--token-label", "test", "--login", "--pin", "1234"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runCeremony runs the fixtures' plan, with extra appended to it, headless to the end.
func runCeremony(t *testing.T, extra string) (dir string, evs []event) {
	t.Helper()
	dir = t.TempDir()
	newTokens(t, dir, "test")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if extra != "" {
		plan, _ := os.ReadFile(filepath.Join(dir, "plan.yaml"))
		os.WriteFile(filepath.Join(dir, "plan.yaml"), append(plan, extra...), 0o600)
	}
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	args := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)
	if _, stderr, code := keyceremony(t, dir, args...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := keyceremony(t, dir, "verify", "out"); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, stderr)
	}
	return dir, readEvents(t, filepath.Join(dir, "out"))
}

// TestTokenRefusesAnInsidersWrap plays the insider with the user PIN after a ceremony: an AES key
// of known value written into the token and marked for wrapping cannot wrap the target key out,
// because the token, not keyceremony, enforces CKA_WRAP_WITH_TRUSTED. The same wrap with a key
// the insider generates fails the same way; and no transcript signing key is left to re-sign a
// rewritten record.
func TestTokenRefusesAnInsidersWrap(t *testing.T) {
	dir, evs := runCeremony(t, "")
	id := factOf(t, evs, "generate-key", "id")
	var attrs map[string]any
	for _, e := range evs {
		if e.Step == "generate-key" && e.Kind == "step" {
			attrs, _ = e.Facts["attributes"].(map[string]any)
		}
	}
	for name, want := range map[string]bool{"CKA_WRAP_WITH_TRUSTED": true, "CKA_SENSITIVE": true, "CKA_EXTRACTABLE": true,
		"CKA_DERIVE": false, "CKA_COPYABLE": false, "CKA_MODIFIABLE": false, "CKA_WRAP": false, "CKA_UNWRAP": false} {
		if attrs[name] != want {
			t.Errorf("recorded %s = %v, want %v", name, attrs[name], want)
		}
	}

	known := bytes.Repeat([]byte{0x42}, 32)
	os.WriteFile(filepath.Join(dir, "known.key"), known, 0o600)
	if out, err := insiderTool(t, dir, "--write-object", "known.key", "--type", "secrkey", "--key-type", "AES:32",
		"--label", "insider", "--id", "99", "--usage-wrap"); err != nil {
		t.Fatalf("writing the insider's key: %v\n%s", err, out)
	}
	out, err := insiderTool(t, dir, "--wrap", "--id", "99", "--application-id", id, "-m", "0x210A", "--output-file", "stolen.bin")
	if err == nil || !strings.Contains(out, "CKR_KEY_NOT_WRAPPABLE") {
		t.Fatalf("wrapping the target under the insider's key: err %v, want CKR_KEY_NOT_WRAPPABLE:\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "stolen.bin")); err == nil && len(b) > 0 {
		if _, uerr := kwp.Unwrap(known, b); uerr == nil {
			t.Fatal("the insider unwrapped the target key")
		}
	}
	if out, err := insiderTool(t, dir, "--keygen", "--key-type", "AES:32", "--label", "insider2", "--id", "98", "--usage-wrap", "--extractable"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err = insiderTool(t, dir, "--wrap", "--id", "98", "--application-id", id, "-m", "0x2109", "--output-file", "stolen2.bin")
	if err == nil || !strings.Contains(out, "CKR_KEY_NOT_WRAPPABLE") {
		t.Fatalf("wrapping the target under a key the insider generated: err %v, want CKR_KEY_NOT_WRAPPABLE:\n%s", err, out)
	}

	list, err := insiderTool(t, dir, "--list-objects")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(list, "test/transcript") {
		t.Errorf("the transcript signing key is still in the token after the seal:\n%s", list)
	}
	if !strings.Contains(list, "label:      data-key") {
		t.Errorf("custody target: keep, but the key is gone:\n%s", list)
	}
	var custody map[string]any
	for _, e := range evs {
		if e.Step == "custody" {
			custody = e.Facts
		}
	}
	if custody["target"] != "kept" || custody["backup_key"] != "destroyed" || custody["signing_key"] != "destroyed after the seal" {
		t.Errorf("custody end state %v", custody)
	}
	if factOf(t, evs, "destroy:signing-key", "fingerprint") != evs[0].Facts["fingerprint"] {
		t.Error("the destroy:signing-key event names another key than the transcript's")
	}
}

// TestUntrustedWrapIsAnException: a plan for a token that cannot enforce trusted wrapping opts
// out; it needs no security officer, the record says so as an exception, the key is recorded
// without CKA_WRAP_WITH_TRUSTED, and an insider's key can indeed wrap it out: the exception is
// not a formality.
func TestUntrustedWrapIsAnException(t *testing.T) {
	dir := t.TempDir()
	newTokens(t, dir, "test")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	plan, _ := os.ReadFile(filepath.Join(dir, "plan.yaml"))
	plan = bytes.Replace(plan, []byte("  - {role: security-officer, name: Sam}\n"), nil, 1)
	os.WriteFile(filepath.Join(dir, "plan.yaml"), append(plan, "custody: {allow_untrusted_wrap: true}\n"...), 0o600)
	t.Setenv("KC_PIN", "1234")
	if _, stderr, code := keyceremony(t, dir, append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN"}, identityFlags(dir)...)...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	evs := readEvents(t, filepath.Join(dir, "out"))
	var exception string
	for _, e := range evs {
		if e.Step == "trust" && e.Kind == "exception" {
			exception, _ = e.Facts["exception"].(string)
		}
		if e.Step == "generate-key" && e.Kind == "step" {
			if attrs, _ := e.Facts["attributes"].(map[string]any); attrs["CKA_WRAP_WITH_TRUSTED"] != false {
				t.Errorf("recorded CKA_WRAP_WITH_TRUSTED %v, want false", attrs["CKA_WRAP_WITH_TRUSTED"])
			}
		}
	}
	if !strings.HasPrefix(exception, "custody.allow_untrusted_wrap: target keys are made without CKA_WRAP_WITH_TRUSTED") {
		t.Errorf("no exception for untrusted wrapping: %q", exception)
	}
	os.WriteFile(filepath.Join(dir, "known.key"), bytes.Repeat([]byte{0x42}, 32), 0o600)
	if out, err := insiderTool(t, dir, "--write-object", "known.key", "--type", "secrkey", "--key-type", "AES:32", "--label", "insider", "--id", "99", "--usage-wrap"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := insiderTool(t, dir, "--wrap", "--id", "99", "--application-id", factOf(t, evs, "generate-key", "id"), "-m", "0x210A", "--output-file", "stolen.bin"); err != nil {
		t.Fatalf("the insider's wrap failed, so the exception overstates the risk: %v\n%s", err, out)
	}
	stolen, _ := os.ReadFile(filepath.Join(dir, "stolen.bin"))
	key, err := kwp.Unwrap(bytes.Repeat([]byte{0x42}, 32), stolen)
	if err != nil || aesKCV(t, key) != factOf(t, evs, "generate-key", "kcv") {
		t.Fatalf("the insider's blob does not hold the key: %v", err)
	}
}

// TestCustodyDestroyLeavesNothing: with target: destroy, the token holds no object at all after
// the ceremony (the backup key was only ever a session object); with backup_key: keep, it holds
// the kept backup key alone, able to wrap but not to unwrap.
func TestCustodyDestroyLeavesNothing(t *testing.T) {
	dir, evs := runCeremony(t, "custody: {target: destroy}\n")
	if list, err := insiderTool(t, dir, "--list-objects"); err != nil || strings.Contains(list, "Object;") {
		t.Errorf("the token still holds objects (err %v):\n%s", err, list)
	}
	if factOf(t, evs, "destroy:target", "id") != factOf(t, evs, "generate-key", "id") {
		t.Error("the destroy:target event names another object than the key made")
	}
	factOf(t, evs, "destroy:backup-key", "backup_key_kcv")

	dir, _ = runCeremony(t, "custody: {target: destroy, backup_key: keep}\n")
	list, err := insiderTool(t, dir, "--list-objects")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(list, "Object;"); n != 1 || !strings.Contains(list, "label:      test/backup-key") {
		t.Fatalf("want the kept backup key alone, found %d objects:\n%s", n, list)
	}
	if !strings.Contains(list, "Usage:      wrap\n") {
		t.Errorf("the kept backup key's usage is not wrap only:\n%s", list)
	}
}

// TestSealThenInterrupted kills the run right after the seal is written, before the signing key
// is destroyed: verify passes, the key is still there, and a resume (or an abort) destroys it.
func TestSealThenInterrupted(t *testing.T) {
	w := newCrashWorld(t)
	for _, how := range []string{"--resume", "--abort"} {
		t.Run(how, func(t *testing.T) {
			dir := w.dir(t, how)
			if _, killed := w.kill(t, dir, crash{at: "after", step: "sealed"}); !killed {
				t.Fatal("the run was not killed at the seal")
			}
			if _, stderr, code := keyceremony(t, dir, "verify", "out"); code != 0 {
				t.Fatalf("verify after the kill: exit %d\n%s", code, stderr)
			}
			if list, _ := insiderTool(t, dir, "--list-objects", "--type", "privkey"); !strings.Contains(list, "test/transcript") {
				t.Fatalf("the kill came too late: the signing key is already gone:\n%s", list)
			}
			_, stderr, code := keyceremony(t, dir, "run", how, "out", "--yes", "--pin-env", "KC_PIN")
			if code != 0 || !strings.Contains(stderr, "the ceremony was sealed but its transcript signing key was still in the token") {
				t.Fatalf("run %s: exit %d\n%s", how, code, stderr)
			}
			if list, _ := insiderTool(t, dir, "--list-objects"); strings.Contains(list, "test/transcript") {
				t.Fatalf("run %s left the signing key:\n%s", how, list)
			}
			_, stderr, code = keyceremony(t, dir, "run", how, "out", "--yes", "--pin-env", "KC_PIN")
			if code == 0 || !strings.HasPrefix(stderr, "keyceremony: the ceremony in out is finished and sealed; there is nothing to resume\n") {
				t.Fatalf("run %s again: exit %d\n%s", how, code, stderr)
			}
		})
	}
}

// TestKeptBackupKeyOfAnUnsealedSet: with backup_key: keep, an interruption during the handouts
// leaves a kept copy of a backup key whose set is never sealed. A resume replaces it (the new set
// gets a new backup key; the record names the stale copy destroyed); an abort destroys it.
func TestKeptBackupKeyOfAnUnsealedSet(t *testing.T) {
	w := newCrashWorld(t)
	for _, how := range []string{"--resume", "--abort"} {
		t.Run(how, func(t *testing.T) {
			dir := w.dir(t, how)
			plan, _ := os.ReadFile(filepath.Join(dir, "plan.yaml"))
			os.WriteFile(filepath.Join(dir, "plan.yaml"), append(plan, "custody: {backup_key: keep}\n"...), 0o600)
			if _, killed := w.kill(t, dir, crash{at: "after", step: "handout:1"}); !killed {
				t.Fatal("the run was not killed during the handouts")
			}
			if list, _ := insiderTool(t, dir, "--list-objects"); !strings.Contains(list, "test/backup-key") {
				t.Fatalf("no kept backup key after the kill:\n%s", list)
			}
			if _, stderr, code := keyceremony(t, dir, resumeArgs(how, "out")...); code != 0 {
				t.Fatalf("run %s: exit %d\n%s", how, code, stderr)
			}
			list, _ := insiderTool(t, dir, "--list-objects")
			evs := readEvents(t, filepath.Join(dir, "out"))
			switch n := strings.Count(list, "label:      test/backup-key"); {
			case how == "--resume" && n != 1:
				t.Fatalf("after the resume: %d kept backup keys, want the new set's alone:\n%s", n, list)
			case how == "--abort" && n != 0:
				t.Fatalf("after the abort: %d kept backup keys, want none:\n%s", n, list)
			}
			if how == "--resume" {
				factOf(t, evs, "trust", "destroyed_stale_kept_backup_key")
			} else {
				factOf(t, evs, "destroy:backup-key", "id")
				stdout, _, _ := keyceremony(t, dir, "verify", "out")
				if want := "end state: target key kept (the ceremony was aborted); backup key destroyed (its share set was never sealed); transcript signing key destroyed after the seal"; !strings.Contains(stdout, want) {
					t.Errorf("verify of the aborted ceremony does not say %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// TestPaddedPKCS8 runs ceremonies for an RSA-2048 and an EC P-256 key with a Google Cloud target
// (RSA-AES): SoftHSM2 pads the PKCS#8 before AES key wrap, so the ceremony is refused before
// anything is made, naming the token, the key type and the cloud; with allow_padded_pkcs8 it runs,
// records the exception, and openssl shows what the cloud would receive: a DER that openssl pkey
// parses, followed by the zero bytes the KWP length field counts.
func TestPaddedPKCS8(t *testing.T) {
	for _, tc := range []struct{ spec, gcpAlg string }{{"RSA-2048", "rsa-sign-pss-2048-sha256"}, {"EC P-256", "ec-sign-p256-sha256"}} {
		t.Run(strings.ReplaceAll(tc.spec, " ", "-"), func(t *testing.T) {
			dir := t.TempDir()
			newTokens(t, dir, "test")
			if err := writeFixtures(dir, 24*time.Hour); err != nil {
				t.Fatal(err)
			}
			plan, _ := os.ReadFile(filepath.Join(dir, "plan.yaml"))
			plan = bytes.Replace(plan, []byte("type: AES-256"), []byte("type: "+tc.spec), 1)
			plan = bytes.Replace(plan, []byte("    key_name: data\n"), []byte("    key_name: data\n    key_algorithm: "+tc.gcpAlg+"\n"), 1)
			// Only the Google Cloud target: AWS RSAES_OAEP and this Azure fixture take no private keys here.
			plan = plan[:bytes.Index(plan, []byte("  - name: azure"))]
			plan = append(bytes.Replace(plan, []byte("targets:\n  - name: aws\n    profile: aws\n    params: aws-params.json\n    algorithm: RSAES_OAEP_SHA_1\n    wrapping_key_spec: RSA_2048\n    expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE\n"), []byte("targets:\n"), 1), "output: out\n"...)
			os.WriteFile(filepath.Join(dir, "plan.yaml"), plan, 0o600)
			t.Setenv("KC_PIN", "1234")
			t.Setenv("KC_SO_PIN", "12345678")
			// plan check probes the reachable token and says so first.
			_, stderr, code := keyceremony(t, dir, "plan", "check", "plan.yaml")
			refusal := `keyceremony: target "gcp": token "test" pads ` + tc.spec + ` private keys before AES key wrap \(the PKCS#8 DER has (\d+) bytes, the KWP length field says (\d+)\), so Google Cloud KMS would receive (\d+) zero bytes as part of the key\n` +
				`keyceremony: hint: use an HSM that wraps PKCS#8 exactly, or set allow_padded_pkcs8: true on this target if the cloud accepts trailing bytes \(recorded as an exception\)\n\z`
			if code == 0 || !regexp.MustCompile(`\A`+refusal).MatchString(stderr) {
				t.Fatalf("plan check: exit %d\n%s", code, stderr)
			}
			args := append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)
			_, stderr, code = keyceremony(t, dir, args...)
			want := regexp.MustCompile(`\Astep 1/\d+: Open token "test" and log in\n  notice: keyceremony binary SHA-256 [0-9a-f]{64}, [^\n]*\n` + refusal)
			if code == 0 || !want.MatchString(stderr) {
				t.Fatalf("run: exit %d\n%s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
				t.Fatal("the refused ceremony made its output folder")
			}
			if list, _ := insiderTool(t, dir, "--list-objects"); strings.Contains(list, "Object;") {
				t.Fatalf("the refused ceremony left objects in the token:\n%s", list)
			}

			plan = bytes.Replace(plan, []byte("    key_algorithm: "+tc.gcpAlg+"\n"), []byte("    key_algorithm: "+tc.gcpAlg+"\n    allow_padded_pkcs8: true\n"), 1)
			os.WriteFile(filepath.Join(dir, "plan.yaml"), plan, 0o600)
			if _, stderr, code := keyceremony(t, dir, args...); code != 0 {
				t.Fatalf("run with allow_padded_pkcs8: exit %d\n%s", code, stderr)
			}
			out := filepath.Join(dir, "out")
			var exception string
			for _, e := range readEvents(t, out) {
				if e.Step == "wrap:gcp" && e.Kind == "exception" {
					exception, _ = e.Facts["exception"].(string)
				}
			}
			if !strings.HasPrefix(exception, `allow_padded_pkcs8: token "test" pads `+tc.spec+" private keys before AES key wrap") {
				t.Fatalf("no padded PKCS#8 exception recorded: %q", exception)
			}
			blob, err := os.ReadFile(filepath.Join(out, "targets/gcp/wrapped-key.bin"))
			if err != nil {
				t.Fatal(err)
			}
			plain := unwrapRSAAES(t, dir, blob, "gcp-kek.pem", 384)
			os.WriteFile(filepath.Join(dir, "pkcs8.der"), plain, 0o600)
			// The KWP length field (the second half of the RFC 5649 integrity value) is the length
			// of what unwrapped: plain as openssl returns it.
			// An RSA key whose DER happens to be a multiple of 8 bytes long comes out exact; the
			// refusal above is for the keys that do not.
			der := derLen(t, plain)
			if len(plain)%8 != 0 || len(plain)-der >= 8 || !bytes.Equal(plain[der:], make([]byte, len(plain)-der)) {
				t.Fatalf("%d bytes unwrapped, DER %d: not the DER padded with zeros to a multiple of 8", len(plain), der)
			}
			os.WriteFile(filepath.Join(dir, "exact.der"), plain[:der], 0o600)
			openssl(t, dir, "pkey", "-inform", "DER", "-in", "exact.der", "-noout")
			t.Logf("%s: KWP length field %d, PKCS#8 DER %d", tc.spec, len(plain), der)
		})
	}
}

// derLen is the length of the DER SEQUENCE b starts with, header included.
func derLen(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) < 2 || b[0] != 0x30 {
		t.Fatalf("not a DER SEQUENCE: %s", hex.EncodeToString(b[:min(len(b), 8)]))
	}
	n := int(b[1])
	if n < 0x80 {
		return 2 + n
	}
	k := n & 0x7f
	var buf [8]byte
	copy(buf[8-k:], b[2:2+k])
	return 2 + k + int(binary.BigEndian.Uint64(buf[:]))
}
