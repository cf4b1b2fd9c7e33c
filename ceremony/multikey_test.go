package ceremony

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
	"github.com/keyceremony/keyceremony/upload"
)

// multiPlan makes three keys, each with its own AWS target, backed up by one share set or a set
// per key (backup.sets).
const multiPlan = `version: 1
kind: generate
ceremony: multi
token: {module: %s, token: test}
keys:
  - label: k1
    type: AES-256
    targets:
      - {name: aws, profile: aws, params: aws-k1.json, algorithm: RSAES_OAEP_SHA_1, wrapping_key_spec: RSA_2048, expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE}
  - label: k2
    type: AES-256
    targets:
      - {name: aws, profile: aws, params: aws-k2.json, algorithm: RSAES_OAEP_SHA_1, wrapping_key_spec: RSA_2048, expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE}
  - label: k3
    type: AES-256
    targets:
      - {name: aws, profile: aws, params: aws-k3.json, algorithm: RSAES_OAEP_SHA_1, wrapping_key_spec: RSA_2048, expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE}
participants:
  - {role: administrator, name: Ada}
  - {role: security-officer, name: Sam}
  - {role: witness, name: Wendy}
backup:
  sets: %s
  threshold: 2
  custodians:
    - {name: Alice, delivery: age-recipient, recipient: %s}
    - {name: Bob, delivery: age-recipient, recipient: %s}
output: out
`

var multiLabels = []string{"k1", "k2", "k3"}

// newMultiFixture is the fixture with multiPlan: every target is wrapped under f.kek.
func newMultiFixture(t *testing.T, sets string) *fixture {
	t.Helper()
	f := newFixture(t)
	for i, l := range multiLabels {
		f.writeParamsOf(t, "aws-"+l+".json", fmt.Sprintf("arn:aws:kms:eu-west-2:111122223333:key/5d05267f-bb87-4d0b-8594-%012d", i), f.kek, time.Now().Add(24*time.Hour))
	}
	module := softhsmtest.NewToken(t, "test")
	plan := fmt.Sprintf(multiPlan, module, sets, recipientOf(f, 0), recipientOf(f, 1))
	if err := os.WriteFile(f.planPath, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func recipientOf(f *fixture, i int) string {
	return f.ids[i].(*age.X25519Identity).Recipient().String()
}

// Two keys whose targets import into the same AWS KMS key are refused before the token is
// touched: a KMS key takes one key's material.
func TestSeveralKeysIntoOneCloudKeyAreRefused(t *testing.T) {
	f := newMultiFixture(t, SetsShared)
	f.writeParams(t, "aws-k2.json", f.kek, time.Now().Add(24*time.Hour))
	f.writeParams(t, "aws-k3.json", f.kek, time.Now().Add(24*time.Hour))
	_, err := f.plan(t).Check(time.Now())
	want := "plan: targets k2/aws and k3/aws both import into KMS key arn:aws:kms:eu-west-2:111122223333:key/5d05267f-bb87-4d0b-8594-295a4371d414; a cloud key takes one key's material; nothing was changed\nhint: give each key its own cloud key (for AWS, its own KMS key and import parameters)"
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if _, err := os.Stat(f.out()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the output folder was made: %v", err)
	}
}

// checkPackages opens each key's package with openssl and the cloud's private key: each holds
// its own key, whose check value is the one its generate event recorded, and no two are alike.
func checkPackages(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	evs := events(t, f.out())
	kcvs := map[string]string{}
	for _, l := range multiLabels {
		var gen struct{ KCV string }
		factsOf(t, stepEvent(t, evs, "generate-key:"+l), &gen)
		kcv, err := unwrapAWS(t, filepath.Join(f.out(), "targets", l, "aws"), f.kek)
		if err != nil || kcv != gen.KCV {
			t.Fatalf("key %s: the package opens to KCV %q, the record says %s (%v)", l, kcv, gen.KCV, err)
		}
		var wrapped WrapFacts
		factsOf(t, stepEvent(t, evs, "wrap:"+l+"/aws"), &wrapped)
		if wrapped.Key != l || wrapped.Target != "aws" {
			t.Errorf("wrap:%s/aws records key %q, target %q", l, wrapped.Key, wrapped.Target)
		}
		kcvs[l] = kcv
	}
	if kcvs["k1"] == kcvs["k2"] || kcvs["k2"] == kcvs["k3"] || kcvs["k1"] == kcvs["k3"] {
		t.Fatalf("two keys are the same: %v", kcvs)
	}
	return kcvs
}

// Three keys share one set: each custodian gets one share, each key its own manifest and blob
// with the set's id, and any key restores from a quorum of that one set.
func TestSeveralKeysShareOneSet(t *testing.T) {
	f := newMultiFixture(t, SetsShared)
	gen := atTerminal(f)
	if err := f.run(t, gen, false); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, f.out())
	if got, want := EndState(events(t, f.out())), `end state: keys "k1", "k2", "k3" kept; backup key destroyed; transcript signing key destroyed after the seal (recorded before it; the token itself cannot be checked from the record)`; got != want {
		t.Errorf("%s\nwant %s", got, want)
	}
	kcvs := checkPackages(t, f)
	var signOff SignOffFacts
	factsOf(t, stepEvent(t, events(t, f.out()), stepSignOff), &signOff)
	if want := "Packages wrapped under " + fingerprintOf(f.kek) + ": 3 (k1/aws, k2/aws, k3/aws)"; !slices.Contains(signOff.Summary, want) {
		t.Errorf("the closing summary has no line %q:\n%s", want, strings.Join(signOff.Summary, "\n"))
	}
	// An upload receipt written later beside a package of one key is listed, unverified, by both
	// verifiers; any other file there is refused.
	pkg := filepath.Join(f.out(), "targets", "k1", "aws")
	os.WriteFile(filepath.Join(pkg, "upload-receipt.json"), []byte("{}\n"), 0o644)
	if r := transcript.Verify(f.out()); !r.OK || !slices.Equal(r.Receipts, []string{"targets/k1/aws/upload-receipt.json"}) {
		t.Errorf("with a receipt: verifies %v (%s), receipts %v", r.OK, r.Problem, r.Receipts)
	}
	shell := exec.Command("../scripts/verify-transcript", f.out())
	if b, err := shell.CombinedOutput(); err != nil || !strings.Contains(string(b), "unverified receipt: targets/k1/aws/upload-receipt.json") {
		t.Errorf("scripts/verify-transcript with a receipt: %v\n%s", err, b)
	}
	os.WriteFile(filepath.Join(pkg, "notes.txt"), []byte("x"), 0o644)
	if r := transcript.Verify(f.out()); r.OK {
		t.Error("a stray file beside a package verifies")
	}
	if err := exec.Command("../scripts/verify-transcript", f.out()).Run(); err == nil {
		t.Error("scripts/verify-transcript accepts a stray file beside a package")
	}
	os.Remove(filepath.Join(pkg, "notes.txt"))
	evs := events(t, f.out())
	handouts := 0
	for _, ev := range evs {
		if strings.HasPrefix(ev.Step, stepHandout+":") {
			handouts++
		}
	}
	if handouts != 2 {
		t.Errorf("%d handouts for 2 custodians and one set", handouts)
	}
	var set BackupFacts
	factsOf(t, stepEvent(t, evs, stepBackup), &set)
	if len(set.Keys) != 3 || set.Label != "" {
		t.Fatalf("the backup event: %+v", set)
	}
	var commitments []string
	for i, k := range set.Keys {
		if k.Label != multiLabels[i] || k.KCV != kcvs[k.Label] || k.Manifest != "backup-"+set.SetID+"/"+k.Label+"/"+backup.ManifestFile {
			t.Errorf("backed-up key %d: %+v", i, k)
		}
		raw, err := os.ReadFile(filepath.Join(f.out(), k.Manifest))
		if err != nil {
			t.Fatal(err)
		}
		m, err := backup.ParseManifest(raw)
		if err != nil {
			t.Fatal(err)
		}
		if m.SetID != set.SetID || !slices.Equal(m.SharedWith, multiLabels) || m.Key.KCV != kcvs[k.Label] {
			t.Errorf("manifest of %s: set %s, shared with %v, KCV %s", k.Label, m.SetID, m.SharedWith, m.Key.KCV)
		}
		if commitments != nil && !slices.Equal(m.Commitments, commitments) {
			t.Errorf("manifest of %s has other commitments than the set's", k.Label)
		}
		commitments = m.Commitments
	}

	// The inventory tells the three keys apart: each has its own package and the one set.
	inv, err := Inventory(f.out())
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Keys) != 3 {
		t.Fatalf("the inventory has %d keys, want 3", len(inv.Keys))
	}
	for _, k := range inv.Keys {
		if k.KCV != kcvs[k.Label] || k.Backup == nil || k.Backup.SetID != set.SetID || len(k.Targets) != 1 ||
			k.Targets[0].Package != filepath.Join(f.out(), "targets", k.Label, "aws") || len(k.Tokens) != 1 || k.Tokens[0].State != "kept" {
			t.Errorf("inventory of %s: %+v", k.Label, k)
		}
	}

	// Custodians check in once for the set: the inventory counts it for every key it backs up.
	checkIn := "version: 1\nkind: check-in\nceremony: check-in\nparticipants: [{role: administrator, name: Ada}, {role: witness, name: Wendy}]\n" +
		"check_in: {manifest: out/" + set.Keys[1].Manifest + ", ceremonies: [out], custodians: [Alice], interval_days: 30}\noutput: checkin\n"
	cp, err := ParsePlan([]byte(checkIn), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunCheckIn(CheckInOptions{Plan: cp, UI: &Headless{Log: io.Discard, ShareFiles: []string{gen.files["Alice"]}}, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	inv, err = Inventory(f.out(), filepath.Join(f.dir, "checkin"))
	if err != nil {
		t.Fatal(err)
	}
	inv.Assess(Policy{Now: time.Now(), RotateAfter: 365, CheckInInterval: 365, ReimportWarn: 30})
	for _, k := range inv.Keys {
		if h := k.Backup.Custody.Holders[0]; h.Name != "Alice" || h.VerifiedBy != "check-in check-in" {
			t.Errorf("key %s: Alice's last proof %+v", k.Label, h)
		}
	}

	// k2 restores from the quorum of the one set.
	f.writeParamsOf(t, "aws-restored.json", "arn:aws:kms:eu-west-2:111122223333:key/5d05267f-bb87-4d0b-8594-000000000099", f.kek, time.Now().Add(24*time.Hour))
	rp, path := writeRestorePlan(t, f.dir, "k2", "out/backup-"+set.SetID+"/k2", "[out]",
		"targets: [{name: aws, profile: aws, params: aws-restored.json, algorithm: RSAES_OAEP_SHA_1, wrapping_key_spec: RSA_2048, expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE}]\n")
	p := atTerminal(f)
	p.quorum = []string{gen.files["Bob"], gen.files["Alice"]}
	if err := Run(Options{Plan: rp, PlanPath: path, UI: p, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	var restored KeyFacts
	factsOf(t, stepEvent(t, events(t, rp.OutputDir()), stepRestoreKey), &restored)
	if restored.KCV != kcvs["k2"] || restored.BackupSet != set.SetID {
		t.Errorf("restored KCV %s from set %s, want %s from %s", restored.KCV, restored.BackupSet, kcvs["k2"], set.SetID)
	}
	for _, ev := range events(t, rp.OutputDir()) {
		if ev.Kind == transcript.KindException && ev.Step == stepRestoreKey {
			t.Errorf("a restore under the manifest's own label records an exception: %s", ev.Facts)
		}
	}
	// A restore that wraps has the witness check the wrapping key first, like any ceremony.
	stepEvent(t, events(t, rp.OutputDir()), stepCheckWrapKey+":aws")
	if kcv, err := unwrapAWS(t, filepath.Join(rp.OutputDir(), "targets", "aws"), f.kek); err != nil || kcv != kcvs["k2"] {
		t.Errorf("the restore's package opens to KCV %q (%v), want %s", kcv, err, kcvs["k2"])
	}
}

// A re-share of a set shared by several keys carries every key: the new set backs them all up
// for the new roster, any of them restores from it, and the old set is superseded for all. A
// re-share whose set folder lacks a key is refused before anything is touched.
func TestSharedSetReshareCarriesEveryKey(t *testing.T) {
	f := newMultiFixture(t, SetsShared)
	gen := atTerminal(f)
	if err := f.run(t, gen, false); err != nil {
		t.Fatal(err)
	}
	kcvs := checkPackages(t, f)
	var old BackupFacts
	factsOf(t, stepEvent(t, events(t, f.out()), stepBackup), &old)

	module := softhsmtest.NewToken(t, "reshare")
	path := filepath.Join(f.dir, "reshare.yaml")
	os.WriteFile(path, []byte("version: 1\nkind: reshare\nceremony: reshare\ntoken: {module: "+module+", token: reshare}\nkey: {label: k2}\n"+
		"participants: [{role: administrator, name: Ada}, {role: security-officer, name: Sam}, {role: witness, name: Wendy}]\n"+
		"restore: {manifest: out/backup-"+old.SetID+"/k2/backup-manifest.json, blob: out/backup-"+old.SetID+"/k2/backup-blob.bin, ceremonies: [out]}\n"+
		"backup: {threshold: 2, custodians: [{name: Carol, delivery: age-recipient, recipient: "+recipientOf(f, 0)+"}, {name: Dan, delivery: age-recipient, recipient: "+recipientOf(f, 1)+"}]}\n"+
		"output: reshared\n"), 0o600)
	rp, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	// The custodians bring a copy of the set's folder that lacks k3.
	copied := filepath.Join(f.dir, "copy", "backup-"+old.SetID)
	for _, l := range []string{"k1", "k2"} {
		os.MkdirAll(filepath.Join(copied, l), 0o700)
		for _, name := range []string{backup.ManifestFile, backup.BlobFile} {
			data, _ := os.ReadFile(filepath.Join(f.out(), "backup-"+old.SetID, l, name))
			os.WriteFile(filepath.Join(copied, l, name), data, 0o600)
		}
	}
	copyPath := filepath.Join(f.dir, "reshare-copy.yaml")
	plan, _ := os.ReadFile(path)
	os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(plan), "out/backup-", "copy/backup-")), 0o600)
	cp, err := LoadPlan(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cp.Check(time.Now())
	want := "backup set " + old.SetID + " backs up key \"k3\" too, and a re-share carries every key of its set, but open " + filepath.Join(copied, "k3", backup.ManifestFile) +
		": no such file or directory\nhint: keep the set's folder whole: each key's manifest and blob in " + filepath.Join(copied, "LABEL")
	if err == nil || err.Error() != want {
		t.Errorf("a set folder without k3:\n%v\nwant:\n%s", err, want)
	}

	p := atTerminal(f)
	p.quorum = []string{gen.files["Alice"], gen.files["Bob"]}
	if err := Run(Options{Plan: rp, PlanPath: path, UI: p, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, rp.OutputDir())
	var set BackupFacts
	factsOf(t, stepEvent(t, events(t, rp.OutputDir()), stepBackup), &set)
	if set.Replaces != old.SetID || len(set.Keys) != 3 {
		t.Fatalf("the new set: %+v", set)
	}
	for i, k := range set.Keys {
		if k.Label != multiLabels[i] || k.KCV != kcvs[k.Label] {
			t.Errorf("new set key %d: %+v", i, k)
		}
	}

	// k3 restores from the new set with the new roster's shares.
	rp, path = writeRestorePlan(t, f.dir, "k3", "reshared/backup-"+set.SetID+"/k3", "[out, reshared]", "")
	p2 := atTerminal(f)
	p2.quorum = []string{p.files["Dan"], p.files["Carol"]}
	if err := Run(Options{Plan: rp, PlanPath: path, UI: p2, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	var restored KeyFacts
	factsOf(t, stepEvent(t, events(t, rp.OutputDir()), stepRestoreKey), &restored)
	if restored.KCV != kcvs["k3"] || restored.BackupSet != set.SetID {
		t.Errorf("restored %s from %s, want %s from %s", restored.KCV, restored.BackupSet, kcvs["k3"], set.SetID)
	}

	// k1's manifest restored under the label k3 (a slip the shared set's sibling folders make
	// easy) is said at plan check and recorded.
	os.RemoveAll(rp.OutputDir())
	rp, path = writeRestorePlan(t, f.dir, "k3", "reshared/backup-"+set.SetID+"/k1", "[out, reshared]", "")
	warnings, err := rp.Check(time.Now())
	const other = `the backup manifest is of key "k1"; it is restored under the plan's label "k3"`
	if err != nil || !slices.Contains(warnings, other) {
		t.Errorf("plan check of a restore of k1 as k3: %v, warnings %q", err, warnings)
	}
	p3 := atTerminal(f)
	p3.quorum = []string{p.files["Dan"], p.files["Carol"]}
	if err := Run(Options{Plan: rp, PlanPath: path, UI: p3, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	if !hasException(t, events(t, rp.OutputDir()), stepRestoreKey, other) {
		t.Error("the restore of k1 as k3 is not recorded as an exception")
	}

	// The old set is superseded for every key it backed up, not only the one the re-share named.
	os.RemoveAll(rp.OutputDir())
	rp, _ = writeRestorePlan(t, f.dir, "k1", "out/backup-"+old.SetID+"/k1", "[out, reshared]", "")
	if _, err := rp.Check(time.Now()); err == nil || !strings.HasPrefix(err.Error(), "backup set "+old.SetID+" is superseded by set "+set.SetID) {
		t.Errorf("restore of k1 from the old set: %v", err)
	}
}

// With a set per key, an interruption in the second set's verification round voids that set
// alone: the first key's sealed set stays, and the resumed run makes the second set again.
func TestSeveralKeysWithASetEachSurviveAnInterruption(t *testing.T) {
	f := newMultiFixture(t, SetsPerKey)
	f.edit(t, "output: out\n", "custody: {target: destroy}\noutput: out\n")
	p := atTerminal(f)
	p.onStep = func(id string) {
		if id == "verify-share:k2/1" {
			p.stopAtShare = true
		}
	}
	var in *Interrupted
	if err := f.run(t, p, false); !errors.As(err, &in) {
		t.Fatalf("got %v, want an interruption", err)
	}
	evs := events(t, f.out())
	var first, voided BackupFacts
	factsOf(t, stepEvent(t, evs, "backup:k1"), &first)
	var intent Intent
	factsOf(t, stepEvent(t, evs, intentPrefix+"backup:k2"), &intent)
	voided.SetID = intent.SetID

	p = atTerminal(f)
	if err := f.run(t, p, true); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, f.out())
	checkPackages(t, f)
	evs = events(t, f.out())
	var void VoidSetFacts
	factsOf(t, stepEvent(t, evs, stepVoid+":"+voided.SetID), &void)
	if _, err := os.Stat(filepath.Join(f.out(), "backup-"+voided.SetID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the voided set's folder is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.out(), "backup-"+first.SetID, backup.ManifestFile)); err != nil {
		t.Errorf("the first key's sealed set was touched: %v", err)
	}
	sets := map[string]bool{}
	for _, l := range multiLabels {
		var b BackupFacts
		factsOf(t, stepEvent(t, evs, "backup:"+l), &b)
		if b.Label != l || b.SetID == voided.SetID || sets[b.SetID] {
			t.Errorf("backup:%s: %+v", l, b)
		}
		sets[b.SetID] = true
	}
	for _, ev := range evs {
		if ev.Step == stepVoid+":"+first.SetID {
			t.Errorf("the first key's sealed set was voided")
		}
	}
	// The plan destroys the keys once wrapped and backed up: each destruction is recorded, and
	// the inventory says so.
	inv, err := Inventory(f.out())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range inv.Keys {
		stepEvent(t, evs, "destroy:target:"+k.Label)
		if len(k.Tokens) != 1 || k.Tokens[0].State != "destroyed" || k.Tokens[0].Token != "test" {
			t.Errorf("inventory of %s: tokens %+v", k.Label, k.Tokens)
		}
	}
}

// Keys whose targets share import parameters (one Azure KEK for every key) have the wrapping key
// checked once: the check names the other targets, and each of their wraps uses the copy that
// check pinned, even when the file is replaced after it.
func TestSharedWrappingKeyIsCheckedOnce(t *testing.T) {
	f := newMultiFixture(t, SetsShared)
	os.WriteFile(filepath.Join(f.dir, "kek.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, f.kek)}), 0o600)
	plan, _ := os.ReadFile(f.planPath)
	for _, l := range multiLabels { // each key gets an Azure target beside its AWS one
		aws := "params: aws-" + l + ".json, algorithm: RSAES_OAEP_SHA_1, wrapping_key_spec: RSA_2048, expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE}"
		plan = []byte(strings.Replace(string(plan), aws, aws+"\n      - {name: azure, profile: azure, params: kek.pem, kid: \"https://v.managedhsm.azure.net/keys/KEK/0123456789abcdef0123456789abcdef\", key_name: "+l+"}", 1))
	}
	os.WriteFile(f.planPath, plan, 0o600)
	var checks []string
	for _, s := range f.plan(t).Script() {
		if strings.HasPrefix(s.ID, stepCheckWrapKey+":") {
			checks = append(checks, s.ID)
		}
	}
	want := []string{"check-wrapping-key:k1/aws", "check-wrapping-key:k1/azure", "check-wrapping-key:k2/aws", "check-wrapping-key:k3/aws"}
	if !slices.Equal(checks, want) {
		t.Fatalf("check steps %v, want %v", checks, want)
	}
	p := atTerminal(f)
	p.onStep = func(id string) {
		if id == "wrap:k1/aws" { // after every check: the shared file is replaced
			os.WriteFile(filepath.Join(f.dir, "kek.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustPKIX(t, rsaKey(t))}), 0o600)
		}
	}
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	requireVerifies(t, f.out())
	evs := events(t, f.out())
	var check CheckWrappingKeyFacts
	factsOf(t, stepEvent(t, evs, "check-wrapping-key:k1/azure"), &check)
	if !slices.Equal(check.AlsoFor, []string{"k2/azure", "k3/azure"}) || check.WrappingKeyFingerprint != fingerprintOf(f.kek) {
		t.Errorf("the shared check: also for %v, fingerprint %s", check.AlsoFor, check.WrappingKeyFingerprint)
	}
	for _, l := range multiLabels {
		var w WrapFacts
		step := "wrap:" + l + "/azure"
		factsOf(t, stepEvent(t, evs, step), &w)
		if w.WrappingKeyFingerprint != fingerprintOf(f.kek) {
			t.Errorf("%s is wrapped under %s, not the checked key", step, w.WrappingKeyFingerprint)
		}
		if !hasException(t, evs, step, "kek.pem changed after the witness checked it; it is not used: the checked copy inputs/k1/azure/params.pem is") {
			t.Errorf("%s does not record that the file changed", step)
		}
	}

	// upload finds the ceremony folder two levels up (targets/LABEL/NAME) and checks the package
	// against its signed wrap event: the instructions for a good one, a refusal for an altered one.
	pkg := filepath.Join(f.out(), "targets", "k2", "azure")
	if text, err := upload.Run(context.Background(), pkg, upload.Record{}, "", "", time.Now()); err != nil || !strings.Contains(text, "az keyvault key import") {
		t.Errorf("upload of a package of a ceremony of several keys: %v\n%s", err, text)
	}
	byok := filepath.Join(f.out(), "targets", "k3", "azure", "KeyTransferPackage.byok")
	data, _ := os.ReadFile(byok)
	os.WriteFile(byok, append(data, ' '), 0o600)
	_, err := upload.Run(context.Background(), filepath.Dir(byok), upload.Record{}, "", "", time.Now())
	if err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("upload of an altered package: %v", err)
	}
}

func mustPKIX(t *testing.T, k *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// One intent names every key before the first is made; a PIN holder who reads it and plants a key
// with the second key's label before the ceremony makes it is refused, and on resume the planted
// key's CKA_ID is not the one recorded.
func TestPlantedKeyAfterTheIntentOfSeveral(t *testing.T) {
	f := newMultiFixture(t, SetsShared)
	p := atTerminal(f)
	p.onRecord = func(summary string) {
		if strings.HasPrefix(summary, "intent:generate-key") {
			plantKeyLabelled(t, "k2", "0102")
		}
	}
	err := f.run(t, p, false)
	want := `a key labelled "k2" already exists on token "test"` + "\nhint: choose another label; keyceremony never replaces a key"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	var intents Intent
	factsOf(t, stepEvent(t, events(t, f.out()), "intent:generate-key"), &intents)
	if len(intents.Keys) != 3 || intents.Keys[1].Label != "k2" {
		t.Fatalf("the intent: %+v", intents)
	}
	err = f.run(t, atTerminal(f), true)
	want = `token key "k2" has CKA_ID "0102", not "` + intents.Keys[1].CKAID + `", which this ceremony recorded before making its key: it is not the ceremony's key; nothing was changed` +
		"\nhint: someone with the PIN made it: find out who; remove it with the vendor's tool, then resume"
	if err == nil || err.Error() != want {
		t.Fatalf("resume: got %v\nwant %s", err, want)
	}
	for _, e := range events(t, f.out()) {
		if e.Step == "generate-key:k2" && e.Kind == transcript.KindStep {
			t.Fatal("the planted key was recorded as the ceremony's")
		}
	}
}

func TestSomeOf(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{
		{1, "1 (k1/gcp)"},
		{4, "4 (k1/gcp, k2/gcp, k3/gcp, k4/gcp)"},
		{100, "100 (k1/gcp, k2/gcp, ... k100/gcp; targets/LABEL/TARGET)"},
	} {
		var names []string
		for i := range c.n {
			names = append(names, fmt.Sprintf("k%d/gcp", i+1))
		}
		if got := someOf(names); got != c.want {
			t.Errorf("someOf(%d names) = %q, want %q", c.n, got, c.want)
		}
	}
}
