package ceremony

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/wrap"
)

// rotationFixture runs the fixture's generate ceremony, then writes a plan rotating its key with
// fresh import parameters (a new wrapping key, f.kek from then on) of the same KMS key. It
// returns the old key's facts, the old wrapping key and the rotation plan's path.
func rotationFixture(t *testing.T) (f *fixture, old KeyFacts, oldKEK *rsa.PrivateKey, planPath string) {
	t.Helper()
	f = newFixture(t)
	if err := f.run(t, atTerminal(f), false); err != nil {
		t.Fatal(err)
	}
	factsOf(t, stepEvent(t, events(t, f.out()), stepGenerateKey), &old)
	oldKEK, f.kek = f.kek, rsaKey(t)
	f.writeParams(t, "aws-params-2027.json", f.kek, time.Now().Add(24*time.Hour))
	planPath = filepath.Join(f.dir, "rotate.yaml")
	writeRotatePlan(t, planPath, old.KCV, f)
	return f, old, oldKEK, planPath
}

// writeRotatePlan writes to path the fixture's plan made a rotation: data-key (of check value
// kcv) into data-key-2027, for the same AWS KMS key with fresh import parameters.
func writeRotatePlan(t *testing.T, path, kcv string, f *fixture) {
	t.Helper()
	b, err := os.ReadFile(f.planPath)
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.NewReplacer("kind: generate", "kind: rotate", "ceremony: trust", "ceremony: rotate-2027",
		"key: {label: data-key, type: AES-256}", "key: {label: data-key-2027, type: AES-256, rotates: {label: data-key, kcv: "+kcv+"}}",
		"params: aws-params.json", "params: aws-params-2027.json", "output: out", "output: out-2027").Replace(string(b))
	if err := os.WriteFile(path, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
}

func loadRotation(t *testing.T, path string, history ...string) *Plan {
	t.Helper()
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	p.SetHistory(history)
	return p
}

// A rotation on SoftHSM2: the new key's package for the same AWS KMS key opens, with openssl and
// the new import parameters' private key, to a key whose KCV is the one its generate-key event
// records and differs from the old key's (whose package opens to the old KCV under the old
// parameters); the generate-key event links the old key with its ceremony, folder, checkpoint and
// targets; the wrap event and the package say the new version is an AWS on-demand rotation.
func TestRotationLinksOldAndNewKeys(t *testing.T) {
	f, old, oldKEK, planPath := rotationFixture(t)
	p := loadRotation(t, planPath, f.out())
	if err := Run(Options{Plan: p, PlanPath: planPath, UI: atTerminal(f), Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "out-2027")
	if r := transcript.Verify(out); !r.OK {
		t.Fatalf("the rotation's record does not verify: %s", r.Problem)
	}
	evs := events(t, out)
	var gen KeyFacts
	factsOf(t, stepEvent(t, evs, stepGenerateKey), &gen)
	newKCV, err := unwrapAWS(t, filepath.Join(out, "targets", "aws"), f.kek)
	if err != nil || newKCV != gen.KCV {
		t.Fatalf("the new package opens to KCV %q, its generate-key event says %s (%v)", newKCV, gen.KCV, err)
	}
	oldKCV, err := unwrapAWS(t, filepath.Join(f.out(), "targets", "aws"), oldKEK)
	if err != nil || oldKCV != old.KCV {
		t.Fatalf("the old package opens to KCV %q, its event says %s (%v)", oldKCV, old.KCV, err)
	}
	if newKCV == oldKCV {
		t.Fatalf("the rotation made the same key again: KCV %s", newKCV)
	}

	r := gen.Rotates
	if r == nil {
		t.Fatal("the generate-key event records no rotates")
	}
	abs, _ := filepath.Abs(f.out())
	checkpoint, _ := os.ReadFile(filepath.Join(f.out(), transcript.CheckpointFile))
	sum := sha256.Sum256(checkpoint) // the SHA-256 the engine showed for the paper log
	if r.Label != "data-key" || r.KCV != old.KCV || r.Spec != "AES-256" || r.Ceremony != "trust" || r.Folder != abs ||
		r.CheckpointSHA256 != hex.EncodeToString(sum[:]) || len(r.History) != 1 || r.History[0].CheckpointSHA256 != r.CheckpointSHA256 {
		t.Errorf("rotates %+v", r)
	}
	manifest, _ := os.ReadFile(filepath.Join(f.out(), "targets", "aws", wrap.ManifestName))
	msum := sha256.Sum256(manifest)
	if len(r.Targets) != 1 || r.Targets[0].Name != "aws" || r.Targets[0].CloudKey != "KMS key arn:aws:kms:eu-west-2:111122223333:key/5d05267f-bb87-4d0b-8594-295a4371d414" ||
		r.Targets[0].ManifestSHA256 != hex.EncodeToString(msum[:]) {
		t.Errorf("rotates.targets %+v", r.Targets)
	}
	var wrapped WrapFacts
	factsOf(t, stepEvent(t, evs, stepWrap+":aws"), &wrapped)
	if wrapped.NewVersion == nil || wrapped.NewVersion.Path != wrap.NewVersionAWSRotation {
		t.Errorf("wrap new_version %+v", wrapped.NewVersion)
	}
	m, err := wrap.ReadManifest(filepath.Join(out, "targets", "aws"))
	if err != nil || m.AWS.ImportType != "NEW_KEY_MATERIAL" || !strings.Contains(m.Command, "\naws kms rotate-key-on-demand --region eu-west-2 --key-id ") ||
		m.NewVersion == nil || *m.NewVersion != *wrapped.NewVersion {
		t.Errorf("package manifest %+v (%v)", m, err)
	}

	// The inventory of both folders links them: the old key is rotated, no longer due, and keeps
	// its set.
	inv, err := Inventory(f.out(), out)
	if err != nil {
		t.Fatal(err)
	}
	inv.Assess(Policy{Now: time.Now().AddDate(2, 0, 0), RotateAfter: 365, CheckInInterval: 365, ReimportWarn: 30})
	for _, k := range inv.Keys {
		switch k.Label {
		case "data-key":
			if k.RotatedBy == nil || k.RotatedBy.Label != "data-key-2027" || k.RotatedBy.KCV != gen.KCV || k.RotationOverdue || k.Backup == nil {
				t.Errorf("old key %+v", k)
			}
		case "data-key-2027":
			if k.Rotates == nil || k.Rotates.KCV != old.KCV || k.Rotates.Ceremony != "trust" {
				t.Errorf("new key rotates %+v", k.Rotates)
			}
		}
	}

	// And the old key cannot be rotated again.
	again := filepath.Join(f.dir, "rotate-again.yaml")
	b, _ := os.ReadFile(planPath)
	os.WriteFile(again, []byte(strings.NewReplacer("data-key-2027", "data-key-2028", "out-2027", "out-2028").Replace(string(b))), 0o600)
	_, err = loadRotation(t, again, f.out(), out).Check(time.Now())
	want := "key data-key (KCV " + old.KCV + ") was already rotated by ceremony rotate-2027 on " + time.Now().UTC().Format(time.DateOnly) +
		" into data-key-2027 (KCV " + gen.KCV + "); nothing was changed\nhint: a key is rotated once; to rotate again, name data-key-2027 in rotates:"
	if err == nil || err.Error() != want {
		t.Errorf("a second rotation of data-key:\n%v\nwant\n%s", err, want)
	}
}

// A rotation is refused before anything is made: a KCV the history does not have for the label,
// a history folder that does not verify, and no history at all.
func TestRotationRefusedBeforeTheToken(t *testing.T) {
	f, old, _, planPath := rotationFixture(t)
	oldKCV := old.KCV
	tampered := filepath.Join(t.TempDir(), "tampered")
	copyDir(t, f.out(), tampered)
	pkg := filepath.Join(tampered, "targets", "aws", wrap.ManifestName)
	b, _ := os.ReadFile(pkg)
	os.WriteFile(pkg, append(b, '\n'), 0o644)
	problem := transcript.Verify(tampered).Problem
	absTampered, _ := filepath.Abs(tampered)

	wrongKCV := filepath.Join(f.dir, "wrong-kcv.yaml")
	writeRotatePlan(t, wrongKCV, "ffffff", f)
	for _, tc := range []struct {
		name, plan string
		history    []string
		want       string
	}{
		{"wrong KCV", wrongKCV, []string{f.out()}, "the history has key data-key with KCV " + oldKCV + ", the plan says ffffff; nothing was changed\n" +
			"hint: a different check value or fingerprint is a different key: check rotates: in the plan against the paper log of the ceremony that made data-key"},
		{"unverified folder", planPath, []string{f.out(), tampered}, "history folder " + absTampered + " does not verify: " + problem + "; nothing was changed\n" +
			"hint: a rotation links keys only through verified transcripts; check it with keyceremony verify " + absTampered + ", or leave it out of --history"},
		{"no history", planPath, nil, "a rotation needs the history of the keys it rotates; nothing was changed\n" +
			"hint: give the folders of the ceremonies that made them, and of every later ceremony of them, with --history DIR..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := loadRotation(t, tc.plan, tc.history...)
			err := Run(Options{Plan: p, PlanPath: tc.plan, UI: atTerminal(f), Identities: f.ids})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(f.dir, "out-2027")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the output folder was made: %v", err)
			}
		})
	}
}

// A resumed rotation reads its history again before the token is touched. One that no longer
// says what the generate-key event recorded (here the same ceremony folder copied elsewhere, so
// the folder the record names differs) is refused and nothing is recorded; the same history lets
// the ceremony finish.
func TestRotationResumeReadsTheHistoryAgain(t *testing.T) {
	f, _, _, planPath := rotationFixture(t)
	p := atTerminal(f)
	p.onRecord = func(summary string) {
		if strings.HasPrefix(summary, stepGenerateKey+":") {
			p.answers = []string{stop}
		}
	}
	if err := Run(Options{Plan: loadRotation(t, planPath, f.out()), PlanPath: planPath, UI: p, Identities: f.ids}); !errors.Is(err, ErrAborted) {
		t.Fatalf("got %v, want a stop after the key was made", err)
	}
	out := filepath.Join(f.dir, "out-2027")
	before := len(events(t, out))
	moved := filepath.Join(t.TempDir(), "moved")
	copyDir(t, f.out(), moved)
	err := Run(Options{Plan: loadRotation(t, planPath, f.out(), moved), PlanPath: planPath, UI: atTerminal(f), Resume: true, Identities: f.ids})
	want := "the history of key data-key is not what step generate-key recorded: the folders given with --history differ (their checkpoints, targets or packages); nothing was changed\n" +
		"hint: give the same --history folders as when the ceremony started, as they were then"
	if err == nil || err.Error() != want {
		t.Fatalf("resume with another history:\n%v\nwant\n%s", err, want)
	}
	if after := len(events(t, out)); after != before {
		t.Errorf("the refused resume recorded %d events", after-before)
	}
	// The same history, found elsewhere (another medium, mounted at another path), is the same.
	if err := Run(Options{Plan: loadRotation(t, planPath, moved), PlanPath: planPath, UI: atTerminal(f), Resume: true, Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	if r := transcript.Verify(out); !r.OK {
		t.Fatalf("the resumed rotation does not verify: %s", r.Problem)
	}
}

// A rotation of every key of a ceremony of several keys, on SoftHSM2: each new key names its old
// one, and its package for the same KMS key opens, with openssl, to the KCV its own generate-key
// event records, unlike the old key's.
func TestRotationOfSeveralKeys(t *testing.T) {
	f := newMultiFixture(t, SetsShared)
	if err := f.run(t, atTerminal(f), false); err != nil {
		t.Fatal(err)
	}
	old := checkPackages(t, f)
	// The inventory of the real ceremony gives each key the shared set and its own package.
	inv, err := Inventory(f.out())
	if err != nil || len(inv.Keys) != len(multiLabels) {
		t.Fatalf("inventory: %v, %d keys", err, len(inv.Keys))
	}
	for _, k := range inv.Keys {
		if k.KCV != old[k.Label] || k.Backup == nil || k.Backup.SetID != inv.Keys[0].Backup.SetID || len(k.Targets) != 1 ||
			k.Targets[0].Package != filepath.Join(f.out(), "targets", k.Label, "aws") {
			t.Errorf("inventory key %s: kcv %s, backup %+v, targets %+v", k.Label, k.KCV, k.Backup, k.Targets)
		}
	}
	b, err := os.ReadFile(f.planPath)
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.NewReplacer("kind: generate", "kind: rotate", "output: out", "output: out-2027").Replace(string(b))
	for _, l := range multiLabels {
		plan = strings.Replace(plan, "- label: "+l+"\n    type: AES-256\n",
			"- label: "+l+"-2027\n    type: AES-256\n    rotates: {label: "+l+", kcv: "+old[l]+"}\n", 1)
	}
	planPath := filepath.Join(f.dir, "rotate.yaml")
	if err := os.WriteFile(planPath, []byte(plan), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Run(Options{Plan: loadRotation(t, planPath, f.out()), PlanPath: planPath, UI: atTerminal(f), Identities: f.ids}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.dir, "out-2027")
	evs := events(t, out)
	for _, l := range multiLabels {
		var gen KeyFacts
		factsOf(t, stepEvent(t, evs, stepGenerateKey+":"+l+"-2027"), &gen)
		kcv, err := unwrapAWS(t, filepath.Join(out, "targets", l+"-2027", "aws"), f.kek)
		if err != nil || kcv != gen.KCV || kcv == old[l] {
			t.Errorf("key %s-2027: the package opens to KCV %q, its event says %s, the old key's is %s (%v)", l, kcv, gen.KCV, old[l], err)
		}
		if r := gen.Rotates; r == nil || r.Label != l || r.KCV != old[l] || len(r.Targets) != 1 || r.Targets[0].Name != "aws" ||
			r.Targets[0].Package != filepath.Join(f.out(), "targets", l, "aws") {
			t.Errorf("key %s-2027 rotates %+v", l, gen.Rotates)
		}
		var wrapped WrapFacts
		factsOf(t, stepEvent(t, evs, stepWrap+":"+l+"-2027/aws"), &wrapped)
		if wrapped.Key != l+"-2027" || wrapped.NewVersion == nil || wrapped.NewVersion.Path != wrap.NewVersionAWSRotation {
			t.Errorf("wrap of %s-2027: %+v", l, wrapped)
		}
	}
}
