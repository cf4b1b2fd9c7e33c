package ceremony

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// fixture is a generate ceremony on a fresh SoftHSM2 token: an AES-256 key, a 2-of-2 backup to
// age recipients, one AWS target (RSAES_OAEP_SHA_1, which SoftHSM2 does in the token).
type fixture struct {
	dir      string
	planPath string
	kek      *rsa.PrivateKey // the cloud's wrapping key the witness checks
	ids      []age.Identity
}

const fixturePlan = `version: 1
kind: generate
ceremony: trust
token: {module: %s, token: test}
key: {label: data-key, type: AES-256}
participants:
  - {role: administrator, name: Ada}
  - {role: security-officer, name: Sam}
  - {role: witness, name: Wendy}
backup:
  threshold: 2
  custodians:
    - {name: Alice, delivery: age-recipient, recipient: %s}
    - {name: Bob, delivery: age-recipient, recipient: %s}
targets:
  - name: aws
    profile: aws
    params: aws-params.json
    algorithm: RSAES_OAEP_SHA_1
    wrapping_key_spec: RSA_2048
    expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE
output: out
`

func newFixture(t *testing.T) *fixture {
	t.Helper()
	module := softhsmtest.NewToken(t, "test")
	f := &fixture{dir: t.TempDir(), kek: rsaKey(t)}
	var recipients []any
	for range 2 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, id)
		recipients = append(recipients, id.Recipient().String())
	}
	f.writeParams(t, "aws-params.json", f.kek, time.Now().Add(24*time.Hour))
	f.planPath = filepath.Join(f.dir, "plan.yaml")
	if err := os.WriteFile(f.planPath, []byte(fmt.Sprintf(fixturePlan, append([]any{module}, recipients...)...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeParams writes what aws kms get-parameters-for-import prints, for the wrapping key k.
func (f *fixture) writeParams(t *testing.T, name string, k *rsa.PrivateKey, validTo time.Time) {
	t.Helper()
	f.writeParamsOf(t, name, "arn:aws:kms:eu-west-2:111122223333:key/5d05267f-bb87-4d0b-8594-295a4371d414", k, validTo)
}

// writeParamsOf writes the import parameters of the AWS KMS key keyID.
func (f *fixture) writeParamsOf(t *testing.T, name, keyID string, k *rsa.PrivateKey, validTo time.Time) {
	t.Helper()
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	token := make([]byte, 256)
	rand.Read(token)
	b, _ := json.Marshal(map[string]any{
		"KeyId":             keyID,
		"ImportToken":       base64.StdEncoding.EncodeToString(token),
		"PublicKey":         base64.StdEncoding.EncodeToString(pub),
		"ParametersValidTo": validTo.Unix(),
	})
	if err := os.WriteFile(filepath.Join(f.dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fingerprintOf(k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return "SHA256:" + sha256Hex(der)
}

func (f *fixture) plan(t *testing.T) *Plan {
	t.Helper()
	p, err := LoadPlan(f.planPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) run(t *testing.T, ui Interaction, resume bool) error {
	t.Helper()
	return Run(Options{Plan: f.plan(t), PlanPath: f.planPath, UI: ui, Resume: resume, Identities: f.ids})
}

func (f *fixture) out() string { return filepath.Join(f.dir, "out") }

// person answers the engine as people at the terminal would (or, with mode headless, as --yes):
// the PIN, type-backs from answers (or the right read-back of the fingerprint the test knows),
// age share files by their path. onStep runs when a step starts.
type person struct {
	mode     string
	answers  []string             // type-backs, in order; when empty, the right ones are given
	right    func() string        // the right read-back of the fingerprint being checked, by prompt
	onStep   func(id string)      // called as each step starts
	onRecord func(summary string) // called as each event is recorded
	asked    []ConfirmRequest     // every confirmation asked
	notices  []string
	files    map[string]string
	// recording is what Recording says.
	recording []string
	// quorum are the share files a restore is given, in order.
	quorum []string
	// stopAtShare makes the next share asked for an operator stop.
	stopAtShare bool
}

func (p *person) Mode() string        { return p.mode }
func (p *person) Recording() []string { return p.recording }
func (p *person) Script(steps []Step, current int) {
	if s := steps[current]; s.Status == Running && p.onStep != nil {
		p.onStep(s.ID)
	}
}
func (p *person) Record(summary string) {
	if p.onRecord != nil {
		p.onRecord(summary)
	}
}
func (p *person) Notice(text string)        { p.notices = append(p.notices, text) }
func (p *person) Success(text string)       { p.notices = append(p.notices, text) }
func (p *person) Busy(string) (done func()) { return func() {} }
func (p *person) Secret(r SecretRequest) ([]byte, error) {
	if r.Purpose == "so-pin" {
		return []byte(softhsmtest.SOPIN), nil
	}
	return []byte(softhsmtest.PIN), nil
}
func (p *person) Confirm(r ConfirmRequest) (string, error) {
	p.asked = append(p.asked, r)
	if len(p.answers) > 0 {
		a := p.answers[0]
		p.answers = p.answers[1:]
		if a == stop {
			return "", ErrAborted
		}
		return a, nil
	}
	if p.mode == ModeHeadless {
		return "", nil
	}
	return p.right(), nil
}
func (p *person) ShowShare(s ShareHandout) error {
	if p.files == nil {
		p.files = map[string]string{}
	}
	p.files[s.Custodian.Name] = s.File
	if s.File == "" && s.Passphrase == nil { // a typed share, copied by its custodian
		p.files[s.Custodian.Name] = "typed:" + s.Share.Typed()
	}
	return nil
}
func (p *person) EnterShare(r ShareRequest) (string, error) {
	if p.stopAtShare {
		p.stopAtShare = false
		return "", ErrAborted
	}
	if r.LastError != "" {
		return "", errors.New(r.LastError)
	}
	if r.Custodian.Name == "" && len(p.quorum) > 0 { // a restore: any quorum member
		f := p.quorum[0]
		p.quorum = p.quorum[1:]
		return "file:" + f, nil
	}
	if typed, ok := strings.CutPrefix(p.files[r.Custodian.Name], "typed:"); ok {
		return typed, nil
	}
	return "file:" + p.files[r.Custodian.Name], nil
}

// stop, as an answer, is the operator stopping the ceremony (Ctrl+C).
const stop = "\x00stop"

// atTerminal is a witness at the terminal who types back each value right: the signing key and
// a key pair's fingerprint from the screen, a key check value from the screen (in lower case,
// with a space: neither counts), the wrapping key from the import request.
func atTerminal(f *fixture) *person {
	p := &person{mode: ModeLine}
	p.right = func() string {
		r := p.asked[len(p.asked)-1]
		if i := strings.Index(r.Detail, "Read-back form: "); i >= 0 {
			return strings.TrimPrefix(r.Detail[i:], "Read-back form: ")
		}
		if r.Large != "" {
			return strings.ToLower(r.Large[:3]) + " " + r.Large[3:]
		}
		return readback.Format(fingerprintOf(f.kek))
	}
	return p
}

func events(t *testing.T, dir string) []transcript.Event {
	t.Helper()
	evs, err := transcript.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func factsOf(t *testing.T, ev transcript.Event, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.Facts, v); err != nil {
		t.Fatal(err)
	}
}

func stepEvent(t *testing.T, evs []transcript.Event, step string) transcript.Event {
	t.Helper()
	for _, e := range evs {
		if e.Step == step && e.Kind == transcript.KindStep {
			return e
		}
	}
	t.Fatalf("no %s event", step)
	return transcript.Event{}
}

func requireVerifies(t *testing.T, dir string) {
	t.Helper()
	if r := transcript.Verify(dir); !r.OK {
		t.Fatalf("the record does not verify: %s", r.Problem)
	}
}

// A witness's slip is caught at its group, recorded as an exception with the witness's name, and
// the confirmation records who typed it back; the begin event says people were at the terminal.
func TestTypeBackRecordsWhoConfirmed(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	good := readback.Format(fingerprintOf(f.kek))
	wrong := "1" // one digit of group 1 mistyped: a check letter catches every single wrong digit
	if good[0] == '1' {
		wrong = "2"
	}
	slip := wrong + good[1:]
	p.onStep = func(id string) {
		if id == "check-wrapping-key:aws" {
			p.answers = []string{slip}
		}
	}
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, f.out())
	if r := transcript.Verify(f.out()); slices.Contains(r.Lines, transcript.HeadlessNote) {
		t.Errorf("verify says a witnessed ceremony was headless: %q", r.Lines)
	}
	evs := events(t, f.out())
	var begin transcript.BeginFacts
	factsOf(t, evs[0], &begin)
	var ceremony struct{ Interaction string }
	json.Unmarshal(begin.Ceremony, &ceremony)
	if ceremony.Interaction != ModeLine {
		t.Errorf("begin records interaction %q, want line", ceremony.Interaction)
	}
	var check struct{ Confirmed Confirmation }
	factsOf(t, stepEvent(t, evs, "check-wrapping-key:aws"), &check)
	if check.Confirmed != (Confirmation{By: Actor{Role: RoleWitness, Name: "Wendy"}, How: ConfirmedTypedBack}) {
		t.Errorf("check-wrapping-key confirmed: %+v", check.Confirmed)
	}
	factsOf(t, stepEvent(t, evs, stepSigningKeyChecked), &check)
	if check.Confirmed.How != ConfirmedTypedBack || check.Confirmed.By.Name != "Wendy" {
		t.Errorf("signing key confirmed: %+v", check.Confirmed)
	}
	var found bool
	for _, e := range evs {
		if e.Kind == transcript.KindException && e.Step == "check-wrapping-key:aws" {
			var x struct{ Exception string }
			factsOf(t, e, &x)
			want := "Wendy (witness) typed back a fingerprint that does not match (attempt 1): group 1 does not fit its check letter: a slip in reading or typing; read it again"
			if e.Actor != (transcript.Actor{Role: RoleWitness, Name: "Wendy"}) || x.Exception != want {
				t.Errorf("exception by %v: %q\nwant %q", e.Actor, x.Exception, want)
			}
			found = true
		}
	}
	if !found {
		t.Error("the failed type-back is not recorded")
	}
	// The witness was asked again, told which group failed.
	var retries []string
	for _, r := range p.asked {
		if strings.Contains(r.Prompt, "wrapping key") && r.TypeBack {
			retries = append(retries, r.LastError)
		}
	}
	if len(retries) != 2 || retries[0] != "" || !strings.HasPrefix(retries[1], "group 1 does not fit") {
		t.Errorf("the witness was asked %d times, told %q", len(retries), retries)
	}
}

// A wrapping key that never matches the import request stops the ceremony before any key is made.
func TestTypeBackOfAnotherKeyStops(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	other := readback.Format(fingerprintOf(rsaKey(t)))
	p.onStep = func(id string) {
		if id == "check-wrapping-key:aws" {
			p.answers = []string{other, other, other}
		}
	}
	err := f.run(t, p, false)
	if err == nil || !strings.HasPrefix(err.Error(), "Wendy (witness) typed back a fingerprint that does not match 3 times: group ") {
		t.Fatalf("got %v", err)
	}
	for _, e := range events(t, f.out()) {
		if e.Step == stepGenerateKey {
			t.Fatal("a key was generated after the wrapping key check failed")
		}
	}
}

// A headless run says so in its record: no person confirmed anything.
func TestHeadlessRecordsNobodyConfirmed(t *testing.T) {
	f := newFixture(t)
	if err := f.run(t, &person{mode: ModeHeadless}, false); err != nil {
		t.Fatal(err)
	}
	if r := transcript.Verify(f.out()); !slices.Contains(r.Lines, transcript.HeadlessNote) {
		t.Errorf("verify does not say the ceremony was headless: %q", r.Lines)
	}
	evs := events(t, f.out())
	var begin transcript.BeginFacts
	factsOf(t, evs[0], &begin)
	if !bytes.Contains(begin.Ceremony, []byte(`"interaction":"headless"`)) {
		t.Errorf("begin facts: %s", begin.Ceremony)
	}
	for _, step := range []string{"check-wrapping-key:aws", stepSigningKeyChecked} {
		var c struct{ Confirmed Confirmation }
		factsOf(t, stepEvent(t, evs, step), &c)
		if c.Confirmed.How != ConfirmedHeadless {
			t.Errorf("%s confirmed %+v", step, c.Confirmed)
		}
	}
}

// unwrapAWS opens the EncryptedKeyMaterial.bin of the AWS package in folder pkg with openssl and
// a wrapping private key, as AWS would, and returns the AES key's check value.
func unwrapAWS(t *testing.T, pkg string, kek *rsa.PrivateKey) (string, error) {
	t.Helper()
	tmp := t.TempDir()
	der, _ := x509.MarshalPKCS8PrivateKey(kek)
	os.WriteFile(filepath.Join(tmp, "kek.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	cmd := exec.Command("openssl", "pkeyutl", "-decrypt", "-inkey", "kek.pem", "-in", filepath.Join(pkg, "EncryptedKeyMaterial.bin"),
		"-out", "key.bin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1", "-pkeyopt", "rsa_mgf1_md:sha1")
	cmd.Dir = tmp
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("openssl: %v: %s", err, b)
	}
	key, _ := os.ReadFile(filepath.Join(tmp, "key.bin"))
	c, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	var block [16]byte
	c.Encrypt(block[:], block[:])
	return hex.EncodeToString(block[:3]), nil
}

// checkWrappedUnderOriginal proves the package was wrapped under the key the witness checked:
// openssl opens it with that key's private key and not with the substitute's.
func checkWrappedUnderOriginal(t *testing.T, f *fixture, substitute *rsa.PrivateKey) {
	t.Helper()
	var gen struct{ KCV string }
	factsOf(t, stepEvent(t, events(t, f.out()), stepGenerateKey), &gen)
	pkg := filepath.Join(f.out(), "targets", "aws")
	kcv, err := unwrapAWS(t, pkg, f.kek)
	if err != nil || kcv != gen.KCV {
		t.Fatalf("the package does not open with the checked key: KCV %q (want %s), %v", kcv, gen.KCV, err)
	}
	if _, err := unwrapAWS(t, pkg, substitute); err == nil {
		t.Fatal("the package opens with the substituted key")
	}
}

// The params file is replaced between the witness's check and the wrap: the package is wrapped
// under the checked key all the same, from the copy pinned in the record, and the record says the
// file changed.
func TestParamsReplacedBeforeWrapIsNotUsed(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	substitute := rsaKey(t)
	p.onStep = func(id string) {
		if id == "wrap:aws" {
			f.writeParams(t, "aws-params.json", substitute, time.Now().Add(24*time.Hour))
		}
	}
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, f.out())
	checkWrappedUnderOriginal(t, f, substitute)
	evs := events(t, f.out())
	check := stepEvent(t, evs, "check-wrapping-key:aws")
	if len(check.Files) != 1 || check.Files[0].Path != "inputs/aws/params.json" {
		t.Fatalf("the check names %v, want the pinned inputs/aws/params.json", check.Files)
	}
	want := "aws-params.json changed after the witness checked it; it is not used: the checked copy inputs/aws/params.json is"
	if !hasException(t, evs, "wrap:aws", want) {
		t.Errorf("no exception %q", want)
	}
	var wrapped struct {
		Fingerprint string `json:"wrapping_key_fingerprint"`
	}
	factsOf(t, stepEvent(t, evs, "wrap:aws"), &wrapped)
	if wrapped.Fingerprint != fingerprintOf(f.kek) {
		t.Errorf("wrap records %s, the witness checked %s", wrapped.Fingerprint, fingerprintOf(f.kek))
	}
}

func hasException(t *testing.T, evs []transcript.Event, step, what string) bool {
	for _, e := range evs {
		if e.Kind == transcript.KindException && e.Step == step {
			var x struct{ Exception string }
			factsOf(t, e, &x)
			if x.Exception == what {
				return true
			}
		}
	}
	return false
}

// The ceremony stops before the wrap, the params file is replaced, the ceremony resumes: the
// pinned copy from the verified record is used, never the file as it is now. A pinned copy altered
// in the record is refused.
func TestParamsReplacedAcrossResumeIsNotUsed(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	// A file where the targets folder goes stops the ceremony at its first wrap.
	block := filepath.Join(f.out(), "targets")
	p.onStep = func(id string) {
		if id == "wrap:aws" {
			os.WriteFile(block, nil, 0o600)
		}
	}
	if err := f.run(t, p, false); err == nil {
		t.Fatal("the blocked wrap did not fail")
	}
	os.Remove(block)
	substitute := rsaKey(t)
	f.writeParams(t, "aws-params.json", substitute, time.Now().Add(24*time.Hour))

	// First, the pinned copy itself altered: refused, with the file named.
	pinned := filepath.Join(f.out(), "inputs/aws/params.json")
	saved, _ := os.ReadFile(pinned)
	os.Chmod(pinned, 0o600)
	os.WriteFile(pinned, bytes.Replace(saved, []byte(`"KeyId"`), []byte(`"KeyId" `), 1), 0o600)
	err := f.run(t, atTerminal(f), true)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot resume: the transcript does not verify: event ") ||
		!strings.HasSuffix(err.Error(), ": file inputs/aws/params.json differs from its recorded SHA-256; nothing was changed\nhint: run keyceremony verify on the folder; a tampered or damaged transcript cannot be resumed") {
		t.Fatalf("resume with an altered pinned copy: %v", err)
	}
	os.WriteFile(pinned, saved, 0o600)

	if err := f.run(t, atTerminal(f), true); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, f.out())
	checkWrappedUnderOriginal(t, f, substitute)
}

func (p *person) Terminal() bool { return p.mode != ModeHeadless }

// edit changes the fixture's plan.
func (f *fixture) edit(t *testing.T, old, new string) {
	t.Helper()
	b, _ := os.ReadFile(f.planPath)
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("the plan has no %q", old)
	}
	os.WriteFile(f.planPath, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600)
}

// tokenObjects counts every object on the fixture's token, as pkcs11-tool lists them after login.
func tokenObjects(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("pkcs11-tool", "--module", softhsmtest.Module, "--token-label", "test", "--login", "--pin", softhsmtest.PIN, "--list-objects").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, " Object;") || strings.HasPrefix(l, "Data object") {
			n++
		}
	}
	return n
}

// Everything knowable is checked before the HSM is touched: each refusal leaves the token without
// a single new object and no ceremony folder.
func TestPreflightRefusesBeforeAnythingIsMade(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*testing.T, *fixture)
		mode string
		want string
	}{
		{"direct OAEP SHA-256 the token cannot do", func(t *testing.T, f *fixture) {
			f.edit(t, "algorithm: RSAES_OAEP_SHA_1", "algorithm: RSAES_OAEP_SHA_256")
		}, ModeLine, `target "aws": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256, which RSAES_OAEP_SHA_256 needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token` +
			"\nhint: use an HSM that does OAEP with SHA-256 or fetch import parameters with RSAES_OAEP_SHA_1, or with RSA_AES_KEY_WRAP_SHA_256 and allow_host_assisted: true"},
		{"RSA-AES SHA-256 without the plan's opt-in", func(t *testing.T, f *fixture) {
			f.edit(t, "algorithm: RSAES_OAEP_SHA_1", "algorithm: RSA_AES_KEY_WRAP_SHA_256")
		}, ModeLine, `target "aws": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which RSA_AES_KEY_WRAP_SHA_256 needs` +
			"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not), use an HSM that does OAEP with SHA-256 or fetch import parameters with RSA_AES_KEY_WRAP_SHA_1"},
		{"params expiring inside the margin", func(t *testing.T, f *fixture) {
			f.writeParams(t, "aws-params.json", f.kek, time.Now().Add(30*time.Minute+20*time.Second))
		}, ModeLine, "target aws: the import parameters expire at "}, // the rest is checked below
		{"typed share in a headless run", func(t *testing.T, f *fixture) {
			f.edit(t, "{name: Bob, delivery: age-recipient, recipient: ", "{name: Bob, delivery: typed, x: ")
			f.edit(t, ", x: ", "}\n#")
		}, ModeHeadless, "custodian Bob's share is delivered typed, which needs a person at a terminal, and this run has none (headless, or the output is not a terminal); nothing was made" +
			"\nhint: run the ceremony on a terminal without --yes, or deliver the share to an age recipient (delivery age-recipient)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.edit(t, f)
			before := tokenObjects(t)
			p := atTerminal(f)
			p.mode = tc.mode
			err := f.run(t, p, false)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
			const tail = ", in 30 minutes, inside the expiry margin of 60 minutes; the package could not be uploaded in time; nothing was changed\nhint: fetch new import parameters on the connected side (or set a shorter expiry_margin in the plan)"
			if strings.Contains(tc.name, "margin") && !strings.HasSuffix(err.Error(), tail) {
				t.Fatalf("got %v\nwant ...%s", err, tail)
			}
			if after := tokenObjects(t); after != before {
				t.Errorf("the token holds %d objects after the refusal, %d before", after, before)
			}
			if _, err := os.Stat(f.out()); err == nil {
				t.Error("the refused ceremony made its folder")
			}
		})
	}
}

// The margin is the plan's to set: parameters valid for 30 more minutes pass with 20m.
func TestPreflightExpiryMarginFromPlan(t *testing.T) {
	f := newFixture(t)
	f.writeParams(t, "aws-params.json", f.kek, time.Now().Add(30*time.Minute))
	f.edit(t, "output: out", "output: out\nexpiry_margin: 20m")
	if err := f.run(t, atTerminal(f), false); err != nil {
		t.Fatal(err)
	}
	f.edit(t, "expiry_margin: 20m", "expiry_margin: soon")
	if _, err := LoadPlan(f.planPath); err == nil || err.Error() != "plan: expiry_margin \"soon\" is not a duration; nothing was changed\nhint: write it like 90m or 2h" {
		t.Fatalf("got %v", err)
	}
}

// plantKey has a PIN holder make an AES key with the plan's label, as pkcs11-tool does.
func plantKey(t *testing.T, id string) { plantKeyLabelled(t, "data-key", id) }

// plantKeyLabelled is a PIN holder making an AES key with pkcs11-tool, as the insider would.
func plantKeyLabelled(t *testing.T, label, id string) {
	t.Helper()
	out, err := exec.Command("pkcs11-tool", "--module", softhsmtest.Module, "--token-label", "test", "--login", "--pin", softhsmtest.PIN,
		"--keygen", "--key-type", "AES:32", "--label", label, "--id", id).CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
}

// A key planted with the plan's label before the ceremony recorded its intent is never adopted,
// in the run or on resume.
func TestPlantedKeyWithoutIntentIsRefused(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	p.onStep = func(id string) {
		if id == stepGenerateKey {
			plantKey(t, "0102")
		}
	}
	const want = `token "test" has a key labelled "data-key" that this ceremony did not make (it recorded no intent to make one); nothing was changed` +
		"\nhint: someone with the PIN made it: find out who; remove it with the vendor's tool, then resume"
	if err := f.run(t, p, false); err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if err := f.run(t, atTerminal(f), true); err == nil || err.Error() != want {
		t.Fatalf("resume: got %v\nwant %s", err, want)
	}
}

// The ceremony records its intent (label and CKA_ID), then a PIN holder plants a key with the
// label before the ceremony makes its own: on resume the planted key's CKA_ID is not the one
// recorded, and it is refused.
func TestPlantedKeyAfterIntentIsRefusedOnResume(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	p.onRecord = func(summary string) {
		if strings.HasPrefix(summary, "intent:generate-key") {
			plantKey(t, "0102")
		}
	}
	if err := f.run(t, p, false); err == nil {
		t.Fatal("the ceremony made its key over a planted one")
	}
	var intents Intent
	factsOf(t, stepEvent(t, events(t, f.out()), "intent:generate-key"), &intents)
	if len(intents.Keys) != 1 || len(intents.Keys[0].CKAID) != 32 || intents.Keys[0].Label != "data-key" {
		t.Fatalf("intent %+v", intents)
	}
	in := intents.Keys[0]
	err := f.run(t, atTerminal(f), true)
	want := `token key "data-key" has CKA_ID "0102", not "` + in.CKAID + `", which this ceremony recorded before making its key: it is not the ceremony's key; nothing was changed` +
		"\nhint: someone with the PIN made it: find out who; remove it with the vendor's tool, then resume"
	if err == nil || err.Error() != want {
		t.Fatalf("resume: got %v\nwant %s", err, want)
	}
	for _, e := range events(t, f.out()) {
		if e.Step == stepGenerateKey && e.Kind == transcript.KindStep {
			t.Fatal("the planted key was recorded as the ceremony's")
		}
	}
}

// A folder in the place of an import package that the ceremony never said it would write is
// refused on resume.
func TestPlantedPackageIsRefused(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	p.onStep = func(id string) {
		if id == "wrap:aws" {
			os.MkdirAll(filepath.Join(f.out(), "targets/aws"), 0o700)
		}
	}
	want := filepath.Join(f.out(), "targets/aws") + " exists, and this ceremony recorded no intent to write it; nothing was changed" +
		"\nhint: it was not written by this ceremony: move it out of the ceremony folder, find out where it came from, then resume"
	if err := f.run(t, p, false); err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// strictly decodes raw JSON into v, refusing any field v does not have.
func strictly(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Every event a ceremony writes decodes into its facts type with no field left over, so the types
// (which the inventory, the review and the fixtures read) say exactly what is written.
func TestFactsTypesMatchWhatIsWritten(t *testing.T) {
	f := newFixture(t)
	p := atTerminal(f)
	good := readback.Format(fingerprintOf(f.kek))
	p.onStep = func(id string) {
		if id == "check-wrapping-key:aws" {
			p.answers = []string{strings.Replace(good, good[:4], good[1:2]+good[0:1]+good[2:4], 1)} // an exception too
		}
	}
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	untyped := map[string]bool{}
	typed := map[string]bool{}
	for _, ev := range events(t, f.out()) {
		var err error
		switch ev.Kind {
		case transcript.KindBegin:
			var outer transcript.BeginFacts
			json.Unmarshal(ev.Facts, &outer)
			err = strictly(outer.Ceremony, new(BeginFacts))
		case transcript.KindException:
			err = strictly(ev.Facts, new(ExceptionFacts))
		case transcript.KindStep:
			facts := StepFacts(ev.Step)
			if facts == nil {
				id, _, _ := strings.Cut(ev.Step, ":")
				untyped[id] = true
				continue
			}
			typed[ev.Step] = true
			err = strictly(ev.Facts, facts)
		default:
			continue
		}
		if err != nil {
			t.Errorf("event %d (%s %s): %v\n%s", ev.Seq, ev.Kind, ev.Step, err, ev.Facts)
		}
	}
	for _, step := range []string{"signing-key-checked", "check-wrapping-key:aws", "intent:generate-key", "generate-key", "intent:backup",
		"handout:1", "verify-share:2", "backup", "intent:wrap", "wrap:aws", "trust", "destroy:backup-key", "destroy:signing-key", "custody"} {
		if !typed[step] {
			t.Errorf("no %s event was checked", step)
		}
	}
	// Every step needs a type.
	for id := range maps.Keys(untyped) {
		t.Errorf("step %s writes facts StepFacts has no type for", id)
	}
}
