package transcript

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "keyceremony/test-2026-11-27"

func newSigner(t testing.TB, alg string) crypto.Signer {
	t.Helper()
	switch alg {
	case AlgorithmEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return priv
	case AlgorithmECDSAP256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return priv
	case AlgorithmRSAPSS, AlgorithmRSAPKCS1:
		priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			t.Fatal(err)
		}
		return rsaSigner{priv, alg}
	}
	t.Fatalf("unknown algorithm %s", alg)
	return nil
}

var algorithms = []string{AlgorithmEd25519, AlgorithmECDSAP256, AlgorithmRSAPSS, AlgorithmRSAPKCS1}

// rsaSigner names its algorithm as hsm.Signer does: an RSA key signs either way.
type rsaSigner struct {
	*rsa.PrivateKey
	alg string
}

func (r rsaSigner) SignatureAlgorithm() string { return r.alg }

func writeFile(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

type keyFacts struct {
	Label      string          `json:"label"`
	Spec       string          `json:"spec"`
	KCV        string          `json:"kcv"`
	Attributes map[string]bool `json:"attributes"`
}

// ceremony writes a sealed transcript of 7 events naming three files into a new folder, and
// returns the folder and the events Append returned.
func ceremony(t testing.TB, signer crypto.Signer) (string, []Event) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "plan.yaml", "kind: generate\n")
	w, err := Create(dir, signer, Begin{
		Actor:      Actor{Role: "ceremony administrator", Name: "Alice Admin"},
		PlanSHA256: strings.Repeat("ab", 32),
		Facts:      map[string]string{"ceremony": "test"},
		Files:      []string{"plan.yaml"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	events := []Event{}
	appendEvent := func(e Entry) {
		t.Helper()
		ev, err := w.Append(e)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}
	appendEvent(Entry{Step: "open-token", Actor: Actor{Role: "security officer", Name: "Sam"},
		Facts: map[string]string{"token": "rehearsal", "serial": "1234"}})
	appendEvent(Entry{Step: "generate-key", Actor: Actor{Role: "security officer", Name: "Sam"},
		Facts: keyFacts{Label: "target", Spec: "AES-256", KCV: "a1b2c3", Attributes: map[string]bool{"sensitive": true, "extractable": true}}})
	writeFile(t, dir, "backup/backup.bin", "wrapped key bytes")
	writeFile(t, dir, "backup/manifest.json", `{"m":2,"n":3}`)
	appendEvent(Entry{Step: "backup", Actor: Actor{Role: "custodian", Name: "Carol"},
		Facts: map[string]int{"m": 2, "n": 3}, Files: []string{"backup/backup.bin", "backup/manifest.json"}})
	appendEvent(Entry{Step: "wrap-aws", Kind: KindException, Actor: Actor{Role: "witness", Name: "Wendy <w@example.com>"},
		Facts: map[string]string{"strategy": "host-assisted", "reason": "the token lacks OAEP with SHA-256"}})
	writeFile(t, dir, "packages/aws/EncryptedKeyMaterial.bin", "ciphertext")
	appendEvent(Entry{Step: "package-aws", Actor: Actor{Role: "ceremony administrator", Name: "Alice Admin"},
		Files: []string{"packages/aws/EncryptedKeyMaterial.bin", "backup/manifest.json"}})
	if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	return dir, events
}

var scriptPath = func() string {
	p, _ := filepath.Abs("../../scripts/verify-transcript")
	return p
}()

// shellResult is what scripts/verify-transcript printed and returned.
type shellResult struct {
	exit   int
	lines  []string
	stderr string
}

func runShell(t testing.TB, dir string, flags ...string) shellResult {
	t.Helper()
	cmd := exec.Command("bash", append(append([]string{scriptPath}, flags...), dir)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := shellResult{lines: strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n"), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", scriptPath, err)
	}
	return r
}

var eventRE = regexp.MustCompile(`^FAIL: event (\d+): `)

// firstBad returns the seq a verdict line names, or -1.
func firstBad(verdict string) int {
	m := eventRE.FindStringSubmatch(verdict)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkAgree checks that the shell verifier reached the same verdict as r, naming the same
// first bad event, after the same report lines.
func checkAgree(t testing.TB, name string, r Report, s shellResult) {
	t.Helper()
	verdict := s.lines[len(s.lines)-1]
	switch {
	case r.OK && (s.exit != 0 || !strings.HasPrefix(verdict, "OK: ")):
		t.Errorf("%s: Verify says OK, the script says (exit %d) %q %s", name, s.exit, verdict, s.stderr)
	case !r.OK && (s.exit != 1 || !strings.HasPrefix(verdict, "FAIL: ")):
		t.Errorf("%s: Verify says %q, the script says (exit %d) %q %s", name, r.Problem, s.exit, verdict, s.stderr)
	case !r.OK && firstBad(verdict) != r.FirstBad:
		t.Errorf("%s: Verify names event %d (%s), the script %q", name, r.FirstBad, r.Problem, verdict)
	case strings.Join(s.lines[:len(s.lines)-1], "\n") != strings.Join(r.Lines[:len(r.Lines)-1], "\n"):
		t.Errorf("%s: the script reports\n%s\nVerify reports\n%s", name, strings.Join(s.lines, "\n"), strings.Join(r.Lines, "\n"))
	}
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			signer := newSigner(t, alg)
			dir, appended := ceremony(t, signer)
			r := Verify(dir)
			if !r.OK || r.Events != 7 || r.FirstBad != -1 || !r.Sealed || r.Problem != "" {
				t.Fatalf("Verify: %+v", r)
			}
			k, _ := newKey(signer.Public(), alg)
			if r.Fingerprint != k.fingerprint() {
				t.Errorf("fingerprint %s, want %s", r.Fingerprint, k.fingerprint())
			}
			s := runShell(t, dir)
			if s.exit != 0 || strings.Join(s.lines, "\n") != strings.Join(r.Lines, "\n") {
				t.Errorf("the script (exit %d) says\n%s\n%s\nVerify says\n%s", s.exit, strings.Join(s.lines, "\n"), s.stderr, strings.Join(r.Lines, "\n"))
			}

			events, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 7 || events[0].Kind != KindBegin || events[6].Kind != KindEnd {
				t.Fatalf("Read: %d events", len(events))
			}
			for i, want := range appended {
				got := events[i+1]
				gotJSON, _ := json.Marshal(got)
				wantJSON, _ := json.Marshal(want)
				if !bytes.Equal(gotJSON, wantJSON) {
					t.Errorf("event %d read back as\n%s\nappended as\n%s", i+1, gotJSON, wantJSON)
				}
			}
			var bf BeginFacts
			if err := json.Unmarshal(events[0].Facts, &bf); err != nil || bf.Algorithm != alg ||
				bf.Fingerprint != r.Fingerprint || bf.PlanSHA256 != strings.Repeat("ab", 32) || string(bf.Ceremony) != `{"ceremony":"test"}` {
				t.Errorf("begin facts %s", events[0].Facts)
			}
			if events[3].Files[1].Path != "backup/manifest.json" {
				t.Errorf("files of event 3: %+v", events[3].Files)
			}

			// The line format is the documented one: prev chain and the sed rule.
			data, _ := os.ReadFile(filepath.Join(dir, TranscriptFile))
			lines, _ := splitLines(data)
			sedRule := regexp.MustCompile(`,"sig":"[A-Za-z0-9+/=]*"\}$`)
			for i, line := range lines {
				if i > 0 && events[i].Prev != lineHash(lines[i-1]) || i == 0 && events[i].Prev != "" {
					t.Errorf("event %d: prev %q", i, events[i].Prev)
				}
				msg := sedRule.ReplaceAll(line, []byte("}"))
				if !k.verify(msg, events[i].Sig) {
					t.Errorf("event %d: the signature is not over the documented message", i)
				}
			}

			var out bytes.Buffer
			if err := Show(&out, events); err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if len(l) > showWidth {
					t.Errorf("Show wrote a line of %d columns: %q", len(l), l)
				}
			}
			for _, want := range []string{"#3  ", "backup/backup.bin", "EXCEPTION  wrap-aws", "  by Wendy <w@example.com> (witness)",
				"attributes.sensitive: true", "kcv: a1b2c3", "  origin: " + testOrigin, "  public_key:", "  file backup/manifest.json\n    sha256 "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("Show output lacks %q:\n%s", want, out.String())
				}
			}
			if testing.Verbose() {
				t.Logf("Show:\n%s", out.String())
			}
		})
	}
}

// TestSeal checks the checkpoint with verifiers built from VerifierKey: x/mod's own for
// Ed25519, and a transparency-dev style one for ECDSA.
func TestSeal(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			signer := newSigner(t, alg)
			dir, _ := ceremony(t, signer)
			vkey, err := VerifierKey(testOrigin, signer.Public())
			if r, ok := signer.(rsaSigner); ok {
				if err == nil {
					t.Error("VerifierKey took an RSA key without its algorithm")
				}
				vkey, err = VerifierKeyRSA(testOrigin, &r.PublicKey, alg)
			}
			if err != nil {
				t.Fatal(err)
			}
			var v note.Verifier
			switch alg {
			case AlgorithmEd25519:
				if v, err = note.NewVerifier(vkey); err != nil {
					t.Fatal(err)
				}
			case AlgorithmECDSAP256:
				v = parseECDSAVerifierKey(t, vkey)
			default:
				v = parseRSAVerifierKey(t, vkey, alg)
			}
			data, _ := os.ReadFile(filepath.Join(dir, CheckpointFile))
			n, err := note.Open(data, note.VerifierList(v))
			if err != nil {
				t.Fatal(err)
			}
			transcript, _ := os.ReadFile(filepath.Join(dir, TranscriptFile))
			lines, _ := splitLines(transcript)
			head := sha256.Sum256(lines[len(lines)-1])
			want := testOrigin + "\n7\n" + base64.StdEncoding.EncodeToString(head[:]) + "\n"
			if n.Text != want {
				t.Errorf("checkpoint text %q, want %q", n.Text, want)
			}
			if _, err := VerifierKey("has space", signer.Public()); err == nil {
				t.Error("VerifierKey accepted an origin with a space")
			}
		})
	}
}

// parseECDSAVerifierKey reads "<name>+<hex id>+base64(0x02 || SPKI)" as transparency-dev does.
func parseECDSAVerifierKey(t *testing.T, vkey string) note.Verifier {
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if len(parts) != 3 || err != nil || raw[0] != noteAlgECDSA {
		t.Fatalf("bad verifier key %q", vkey)
	}
	sum := sha256.Sum256(raw[1:])
	if parts[1] != hex.EncodeToString(sum[:4]) {
		t.Fatalf("verifier key id %s, want %x", parts[1], sum[:4])
	}
	pub, err := x509.ParsePKIXPublicKey(raw[1:])
	if err != nil {
		t.Fatal(err)
	}
	return &testVerifier{name: parts[0], id: binary.BigEndian.Uint32(sum[:4]), pub: pub.(*ecdsa.PublicKey)}
}

// parseRSAVerifierKey reads the documented RSA form: base64(0xff || "keyceremony/" || alg ||
// SPKI DER), key ID SHA-256(name || 0x0A || those bytes)[:4].
func parseRSAVerifierKey(t *testing.T, vkey, alg string) note.Verifier {
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	typ := "\xffkeyceremony/" + alg
	if len(parts) != 3 || err != nil || !strings.HasPrefix(string(raw), typ) {
		t.Fatalf("bad verifier key %q", vkey)
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	if parts[1] != hex.EncodeToString(sum[:4]) {
		t.Fatalf("verifier key id %s, want %x", parts[1], sum[:4])
	}
	pub, err := x509.ParsePKIXPublicKey(raw[len(typ):])
	if err != nil {
		t.Fatal(err)
	}
	return &rsaTestVerifier{name: parts[0], id: binary.BigEndian.Uint32(sum[:4]), pub: pub.(*rsa.PublicKey), pss: alg == AlgorithmRSAPSS}
}

type rsaTestVerifier struct {
	name string
	id   uint32
	pub  *rsa.PublicKey
	pss  bool
}

func (v *rsaTestVerifier) Name() string    { return v.name }
func (v *rsaTestVerifier) KeyHash() uint32 { return v.id }
func (v *rsaTestVerifier) Verify(msg, sig []byte) bool {
	h := sha256.Sum256(msg)
	if v.pss {
		return rsa.VerifyPSS(v.pub, crypto.SHA256, h[:], sig, &rsa.PSSOptions{SaltLength: 32}) == nil
	}
	return rsa.VerifyPKCS1v15(v.pub, crypto.SHA256, h[:], sig) == nil
}

type testVerifier struct {
	name string
	id   uint32
	pub  *ecdsa.PublicKey
}

func (v *testVerifier) Name() string    { return v.name }
func (v *testVerifier) KeyHash() uint32 { return v.id }
func (v *testVerifier) Verify(msg, sig []byte) bool {
	h := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(v.pub, h[:], sig)
}

func TestResume(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			signer := newSigner(t, alg)
			dir := t.TempDir()
			w, err := Create(dir, signer, Begin{Actor: Actor{Role: "ceremony administrator", Name: "A"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Append(Entry{Step: "one"}); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if _, err := Create(dir, signer, Begin{}); err == nil {
				t.Error("Create over an existing transcript succeeded")
			}
			if _, err := Open(dir, newSigner(t, alg)); err == nil || !strings.Contains(err.Error(), "not the one of this ceremony") {
				t.Errorf("Open with another key: %v", err)
			}

			w, err = Open(dir, signer)
			if err != nil {
				t.Fatal(err)
			}
			e, err := w.Append(Entry{Step: "two"})
			if err != nil {
				t.Fatal(err)
			}
			if e.Seq != 2 {
				t.Errorf("resumed at seq %d, want 2", e.Seq)
			}
			if r := Verify(dir); r.OK || r.Problem != NoSeal || r.FirstBad != -1 || r.Events != 3 {
				t.Errorf("unsealed: %+v", r)
			}
			checkAgree(t, "unsealed", Verify(dir), runShell(t, dir))
			if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Append(Entry{Step: "three"}); err == nil {
				t.Error("Append after Seal succeeded")
			}
			if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err == nil {
				t.Error("a second Seal succeeded")
			}
			w.Close()
			if _, err := Open(dir, signer); err == nil || !strings.Contains(err.Error(), "sealed") {
				t.Errorf("Open of a sealed transcript: %v", err)
			}

			// Interrupted between the end event and the checkpoint: Open, then Seal again.
			if err := os.Remove(filepath.Join(dir, CheckpointFile)); err != nil {
				t.Fatal(err)
			}
			w, err = Open(dir, signer)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.Append(Entry{Step: "three"}); err == nil {
				t.Error("Append after the end event succeeded")
			}
			if err := w.Seal("keyceremony/other", Actor{Role: "witness", Name: "Wendy"}); err == nil {
				t.Error("Seal with another origin than the end event's succeeded")
			}
			if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
				t.Fatal(err)
			}
			if r := Verify(dir); !r.OK || r.Events != 4 {
				t.Errorf("after resumed seal: %+v", r)
			}
		})
	}
}

func TestResumeTornLine(t *testing.T) {
	signer := newSigner(t, AlgorithmEd25519)
	dir := t.TempDir()
	w, err := Create(dir, signer, Begin{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	name := filepath.Join(dir, TranscriptFile)
	good, _ := os.ReadFile(name)
	os.WriteFile(name, append(good, `{"seq":1,"time":"2026-`...), 0o644)
	_, err = Open(dir, signer)
	if err == nil || !strings.Contains(err.Error(), "event 1: the line is incomplete") ||
		!strings.Contains(err.Error(), "truncate -s "+strconv.Itoa(len(good))) {
		t.Errorf("Open of a torn transcript: %v", err)
	}
	if r := Verify(dir); r.FirstBad != 1 {
		t.Errorf("Verify of a torn transcript: %+v", r)
	}
}

func TestAppendRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "ok.bin", "x")
	w, err := Create(dir, newSigner(t, AlgorithmEd25519), Begin{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, e := range []Entry{
		{Step: "x", Kind: KindBegin},
		{Step: "x", Kind: KindEnd},
		{Step: "x", Kind: "other"},
		{Kind: KindStep},
		{Step: "x", Files: []string{"../outside"}},
		{Step: "x", Files: []string{"/etc/passwd"}},
		{Step: "x", Files: []string{"a//b"}},
		{Step: "x", Files: []string{"missing.bin"}},
		{Step: "x", Facts: []int{1}},
		{Step: "x", Facts: "text"},
	} {
		if _, err := w.Append(e); err == nil {
			t.Errorf("Append(%+v) succeeded", e)
		}
	}
	if err := w.Seal("has space", Actor{Role: "witness", Name: "Wendy"}); err == nil {
		t.Error("Seal with a bad origin succeeded")
	}
	if e, err := w.Append(Entry{Step: "x", Files: []string{"ok.bin"}}); err != nil || e.Seq != 1 {
		t.Errorf("Append after refusals: %v, seq %d", err, e.Seq)
	}
}

func TestCreateRefusesOtherKeys(t *testing.T) {
	rsaLike, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(t.TempDir(), rsaLike, Begin{}); err == nil || !strings.Contains(err.Error(), "want P-256") {
		t.Errorf("Create with a P-384 key: %v", err)
	}
	if _, err := Create(filepath.Join(t.TempDir(), "missing"), newSigner(t, AlgorithmEd25519), Begin{}); err == nil {
		t.Error("Create in a missing folder succeeded")
	}
}

func TestConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, newSigner(t, AlgorithmECDSAP256), Begin{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.Append(Entry{Step: fmt.Sprintf("step-%d", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	if r := Verify(dir); !r.OK || r.Events != 10 {
		t.Errorf("Verify: %+v", r)
	}
}
