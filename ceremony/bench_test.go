//go:build cgo

package ceremony

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/benchplan"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/kwp"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
	"github.com/keyceremony/keyceremony/wrap"
)

// The scale target of issue 17: a ceremony of benchplan.Keys AES-256 keys, each wrapped for the
// three targets of internal/benchplan, with one shared backup set (BenchmarkCeremonyKeys), within
// 1.3 times the raw PKCS#11 calls that make the same keys and wraps (BenchmarkRawKeys), measured
// in the same run. scripts/bench runs both and prints the ratio.

// BenchmarkRawKeys is the floor: plain miekg/pkcs11 calls, no engine, no transcript, no files.
// It opens the token, lets the security officer make the trusted objects the wrapping needs
// (each cloud's wrapping key, the backup key, one ephemeral AES-256 key per key and target),
// then as the user, for every key: C_GenerateKey with a target key's template, for every
// target the composed RSA-AES wrap the ladder does on SoftHSM2 (C_WrapKey RSA-OAEP SHA-1 of the
// ephemeral key, C_WrapKey CKM_AES_KEY_WRAP_PAD of the key under it, C_DestroyObject of it),
// and the backup wrap (C_WrapKey CKM_AES_KEY_WRAP_PAD under the backup key).
func BenchmarkRawKeys(b *testing.B) {
	for range b.N {
		b.StopTimer()
		softhsmtest.NewToken(b, "bench")
		benchplan.Targets() // the clouds' wrapping keys are made once, outside the timed work
		b.StartTimer()
		rawKeys(b, benchplan.Keys)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchplan.Keys), "ns/key")
}

// rawResult is what rawKeys made: the backup key's bytes, and per key the backup blob and one
// blob per benchplan target.
type rawResult struct {
	backupKey []byte
	backups   [][]byte
	blobs     [][][]byte
}

// rawKeys does the baseline's work for keys keys on the token softhsmtest.NewToken last made.
func rawKeys(tb testing.TB, keys int) *rawResult {
	ctx := pkcs11.New(softhsmtest.Module)
	must := func(err error) {
		if err != nil {
			tb.Helper()
			tb.Fatal(err)
		}
	}
	if ctx == nil {
		tb.Fatal("cannot load " + softhsmtest.Module)
	}
	defer ctx.Destroy()
	must(ctx.Initialize())
	defer ctx.Finalize()
	slots, err := ctx.GetSlotList(true)
	must(err)
	if len(slots) == 0 {
		tb.Fatal("no token")
	}
	sh, err := ctx.OpenSession(slots[0], pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	must(err)
	defer ctx.CloseSession(sh)
	random := func(n int) []byte {
		b, err := ctx.GenerateRandom(sh, n)
		must(err)
		return b
	}
	aesGen := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}
	kwp := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}
	oaep := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP,
		pkcs11.NewOAEPParams(pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, pkcs11.CKZ_DATA_SPECIFIED, nil))}
	targets := benchplan.Targets()
	res := &rawResult{}

	// The security officer's objects, CKA_TRUSTED, as hsm.ImportRSAPublicKey, backup.NewKey and
	// hsm.GenerateSessionAES make them.
	must(ctx.Login(sh, pkcs11.CKU_SO, softhsmtest.SOPIN))
	var pubs []pkcs11.ObjectHandle
	for _, t := range targets {
		der, err := x509.MarshalPKIXPublicKey(&t.KEK.PublicKey)
		must(err)
		id := sha256.Sum256(der)
		h, err := ctx.CreateObject(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, t.KEK.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(t.KEK.E)).Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "keyceremony import wrapping key"),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id[:16]),
			pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true),
		})
		must(err)
		pubs = append(pubs, h)
	}
	kek := func(id []byte, unwrap bool, extra ...*pkcs11.Attribute) []*pkcs11.Attribute {
		return append([]*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, unwrap),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_TRUSTED, true),
		}, extra...)
	}
	res.backupKey = random(32)
	backup, err := ctx.CreateObject(sh, kek(random(16), true,
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, res.backupKey)))
	must(err)
	eph := make([][]pkcs11.ObjectHandle, keys)
	for i := range eph {
		for range targets {
			h, err := ctx.GenerateKey(sh, aesGen, kek(random(16), false,
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
				pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, true)))
			must(err)
			eph[i] = append(eph[i], h)
		}
	}
	must(ctx.Logout(sh))

	must(ctx.Login(sh, pkcs11.CKU_USER, softhsmtest.PIN))
	defer ctx.Logout(sh)
	for i := range keys {
		// A target key's template (hsm.privateTemplate for a secret token key).
		key, err := ctx.GenerateKey(sh, aesGen, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, fmt.Sprintf("raw-%03d", i+1)),
			pkcs11.NewAttribute(pkcs11.CKA_ID, random(16)),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
			pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP_WITH_TRUSTED, true),
			pkcs11.NewAttribute(pkcs11.CKA_COPYABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
		})
		must(err)
		var blobs [][]byte
		for j := range targets {
			w1, err := ctx.WrapKey(sh, oaep, pubs[j], eph[i][j])
			must(err)
			w2, err := ctx.WrapKey(sh, kwp, eph[i][j], key)
			must(err)
			must(ctx.DestroyObject(sh, eph[i][j]))
			blobs = append(blobs, append(w1, w2...))
		}
		b, err := ctx.WrapKey(sh, kwp, backup, key)
		must(err)
		res.backups = append(res.backups, b)
		res.blobs = append(res.blobs, blobs)
	}
	return res
}

// BenchmarkCeremonyKeys is the ceremony the scale target is about: a headless run of the engine,
// in this process, on a plan of benchplan.Keys keys (internal/benchplan), with everything it does
// besides the PKCS#11 calls: the plan check, the transcript (signed in the token, synced per
// event), the witness checks recorded as headless, the share set handed out to age recipients
// and read back, the packages and the seal. Besides ns/key it reports where the time went: the
// ns per key spent in the steps made once per key (generate-key) and per key and target
// (check-wrapping-key, wrap), and in all the others together.
func BenchmarkCeremonyKeys(b *testing.B) {
	spent := map[string]time.Duration{}
	for range b.N {
		b.StopTimer()
		f := benchFixture(b, benchplan.Keys)
		b.StartTimer()
		for kind, d := range runBenchCeremony(b, f) {
			spent[kind] += d
		}
	}
	perKey := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*benchplan.Keys) }
	b.ReportMetric(perKey(b.Elapsed()), "ns/key")
	var others time.Duration
	for kind, d := range spent {
		switch kind {
		case stepGenerateKey, stepCheckWrapKey, stepWrap:
			b.ReportMetric(perKey(d), kind+"-ns/key")
		default:
			others += d
		}
	}
	b.ReportMetric(perKey(others), "other-steps-ns/key")
}

// benchFixture makes a fresh token and writes the benchmark's plan for keys keys beside it.
func benchFixture(tb testing.TB, keys int) *benchplan.Fixture {
	tb.Helper()
	module := softhsmtest.NewToken(tb, "bench")
	f, err := benchplan.Write(tb.TempDir(), module, "bench", keys)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// runBenchCeremony runs f's plan headless, as run --yes does, and returns the time spent in each
// kind of step (a step id up to its ":").
func runBenchCeremony(tb testing.TB, f *benchplan.Fixture) map[string]time.Duration {
	tb.Helper()
	p, err := LoadPlan(f.Plan)
	if err != nil {
		tb.Fatal(err)
	}
	pins := map[string]string{"user-pin": softhsmtest.PIN, "so-pin": softhsmtest.SOPIN}
	ui := &stepClock{spent: map[string]time.Duration{}, Headless: Headless{Log: io.Discard, Secrets: func(purpose string) ([]byte, error) {
		if pin, ok := pins[purpose]; ok {
			return []byte(pin), nil
		}
		return nil, fmt.Errorf("no secret for %s", purpose)
	}}}
	err = Run(Options{Plan: p, PlanPath: f.Plan, UI: ui, Identities: f.Identities, Now: time.Now})
	ui.stop()
	if err != nil {
		tb.Fatal(err)
	}
	return ui.spent
}

// stepClock is the headless interaction with a clock: the time from the start of one step to
// the start of the next goes to the first one's kind.
type stepClock struct {
	Headless
	kind  string
	since time.Time
	spent map[string]time.Duration
}

func (c *stepClock) Script(steps []Step, current int) {
	if steps[current].Status == Running {
		c.stop()
		c.kind, _, _ = strings.Cut(steps[current].ID, ":")
		c.since = time.Now()
	}
	c.Headless.Script(steps, current)
}

func (c *stepClock) stop() {
	if c.kind != "" {
		c.spent[c.kind] += time.Since(c.since)
		c.kind = ""
	}
}

// TestBenchRawKeys checks the baseline does the work it stands for: its keys have the attributes
// of a key the hsm package makes; every blob opens, with the cloud's private key and RFC 5649, to
// the key the backup blob holds; and the keys differ.
func TestBenchRawKeys(t *testing.T) {
	module := softhsmtest.NewToken(t, "bench")
	res := rawKeys(t, 3)
	m, err := hsm.Open(module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.OpenSession("bench")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Login(hsm.User, []byte(softhsmtest.PIN)); err != nil {
		t.Fatal(err)
	}
	raw, err := s.FindKey("raw-001")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.GenerateKey("reference", hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256})
	if err != nil {
		t.Fatal(err)
	}
	rawAttrs, err1 := s.Attributes(raw)
	refAttrs, err2 := s.Attributes(ref)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if raw.Spec != ref.Spec || rawAttrs != refAttrs {
		t.Errorf("the baseline's key is %s with %+v; a target key is %s with %+v", raw.Spec, rawAttrs, ref.Spec, refAttrs)
	}
	seen := map[string]bool{}
	for i, blobs := range res.blobs {
		key, err := kwp.Unwrap(res.backupKey, res.backups[i])
		if err != nil || len(key) != 32 {
			t.Fatalf("key %d: backup blob: %v (%d bytes)", i, err, len(key))
		}
		seen[string(key)] = true
		for j, tg := range benchplan.Targets() {
			k := tg.KEK.Size()
			eph, err := rsa.DecryptOAEP(sha1.New(), nil, tg.KEK, blobs[j][:k], nil)
			if err != nil {
				t.Fatalf("key %d, %s: %v", i, tg.Name, err)
			}
			got, err := kwp.Unwrap(eph, blobs[j][k:])
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("key %d, %s: the blob holds another key (%v)", i, tg.Name, err)
			}
		}
	}
	if len(seen) != 3 {
		t.Errorf("%d distinct keys of 3", len(seen))
	}
}

// TestBenchCeremony runs the benchmark's ceremony with three keys and checks what it stands for:
// the record verifies; every key is wrapped for every target, composed in the token as
// BenchmarkRawKeys does it; and one share set backs up all three keys.
func TestBenchCeremony(t *testing.T) {
	f := benchFixture(t, 3)
	spent := runBenchCeremony(t, f)
	requireVerifies(t, f.Output)
	for _, kind := range []string{stepGenerateKey, stepCheckWrapKey, stepWrap, stepHandout, stepSeal} {
		if spent[kind] <= 0 {
			t.Errorf("no time recorded for the %s steps: %v", kind, spent)
		}
	}
	wraps := map[string]string{}
	var sets []BackupFacts
	for _, ev := range events(t, f.Output) {
		switch {
		case strings.HasPrefix(ev.Step, stepWrap+":") && ev.Kind == transcript.KindStep:
			var w WrapFacts
			factsOf(t, ev, &w)
			wraps[w.Key+"/"+w.Target] = w.Strategy
		case ev.Step == stepBackup && ev.Kind == transcript.KindStep:
			var b BackupFacts
			factsOf(t, ev, &b)
			sets = append(sets, b)
		}
	}
	for _, label := range f.Labels {
		for _, tg := range benchplan.Targets() {
			if s := wraps[label+"/"+tg.Name]; s != wrap.StrategyComposed {
				t.Errorf("%s for %s: strategy %q, not %q", label, tg.Name, s, wrap.StrategyComposed)
			}
		}
	}
	if len(wraps) != len(f.Labels)*len(benchplan.Targets()) {
		t.Errorf("%d wraps recorded: %v", len(wraps), wraps)
	}
	if len(sets) != 1 || len(sets[0].Keys) != len(f.Labels) {
		t.Fatalf("share sets recorded: %+v", sets)
	}
	for i, k := range sets[0].Keys {
		if k.Label != f.Labels[i] {
			t.Errorf("the set's key %d is %q, not %q", i, k.Label, f.Labels[i])
		}
	}
}
