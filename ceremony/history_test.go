package ceremony

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

var updateHistory = flag.Bool("update-history", false, "rewrite testdata/history/*.golden")

// These tests read histories written here as signed, sealed transcripts whose events carry the
// facts the engine records (the facts types), so that the inventory's and the rotation's reading
// of them is tested apart from the engine: a rotation and a ceremony of several keys among them.
// The ceremonies themselves are tested on SoftHSM2 in cmd/keyceremony.

var (
	aes256Spec = hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256}
	wendy      = transcript.Actor{Role: RoleWitness, Name: "Wendy"}
)

// folder is a ceremony folder being written.
type folder struct {
	t   *testing.T
	dir string
	w   *transcript.Writer
}

func newFolder(t *testing.T, root, id, kind string) *folder {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	w, err := transcript.Create(dir, priv, transcript.Begin{PlanSHA256: strings.Repeat("0", 64), Actor: wendy,
		Facts: BeginFacts{Ceremony: id, Kind: kind, Interaction: ModeGuided}})
	if err != nil {
		t.Fatal(err)
	}
	return &folder{t: t, dir: dir, w: w}
}

func (f *folder) step(step string, facts any, files ...string) {
	f.t.Helper()
	if _, err := f.w.Append(transcript.Entry{Step: step, Actor: wendy, Facts: facts, Files: files}); err != nil {
		f.t.Fatal(err)
	}
}

// wrapFor writes the package of key k for target tg, as the engine does, and records its wrap
// event; nv makes it a rotation's.
func (f *folder) wrapFor(k KeyFacts, tg wrap.Target, multi bool, nv *wrap.NewVersion) {
	f.t.Helper()
	p, err := loadFixture(tg)
	if err != nil {
		f.t.Fatal(err)
	}
	spec, _ := hsmspec.ParseKeySpec(k.Spec)
	rel, step, label := path.Join("targets", tg.Name), "wrap:"+tg.Name, ""
	if multi {
		rel, step, label = path.Join("targets", k.Label, tg.Name), "wrap:"+k.Label+"/"+tg.Name, k.Label
	}
	m, err := wrap.WritePackage(filepath.Join(f.dir, filepath.FromSlash(rel)), p, wrap.KeyInfo{Label: k.Label, Spec: spec, KCV: k.KCV, NewVersion: nv},
		&wrap.Result{Blob: make([]byte, 256), Strategy: wrap.StrategyComposed, Reason: "test"}, time.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	var files []string
	for name := range m.Files {
		files = append(files, path.Join(rel, name))
	}
	f.step(step, WrapFacts{Key: label, Target: tg.Name, Profile: tg.Profile, Algorithm: p.Algorithm, Strategy: wrap.StrategyComposed,
		WrappingKeyFingerprint: p.Fingerprint(), NewVersion: nv}, append(files, path.Join(rel, wrap.ManifestName))...)
}

// backupSet records a sealed set whose manifest is a file of the folder.
func (f *folder) backupSet(step string, facts BackupFacts) {
	f.t.Helper()
	rel := path.Join("backup-"+facts.SetID, "backup-manifest.json")
	if err := os.MkdirAll(filepath.Join(f.dir, "backup-"+facts.SetID), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.dir, filepath.FromSlash(rel)), []byte(`{"set":"`+facts.SetID+`"}`), 0o644); err != nil {
		f.t.Fatal(err)
	}
	f.step(step, facts, rel)
}

func (f *folder) seal() string {
	f.t.Helper()
	if err := f.w.Seal("keyceremony/test", wendy); err != nil {
		f.t.Fatal(err)
	}
	f.w.Close()
	return f.dir
}

func loadFixture(tg wrap.Target) (*wrap.Params, error) { return wrap.Load(tg, "../wrap/testdata") }

func awsProd() wrap.Target {
	return wrap.Target{Name: "aws-prod", Profile: wrap.ProfileAWS, Params: "aws-get-parameters-for-import.json",
		Algorithm: "RSAES_OAEP_SHA_1", WrappingKeySpec: "RSA_2048", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}
}

func gcpProd() wrap.Target {
	return wrap.Target{Name: "gcp-prod", Profile: wrap.ProfileGCP, Params: "gcp-import-job.json", KeyName: "payments", Attestation: "skip"}
}

var payments = KeyFacts{Label: "payments", Spec: "AES-256", ID: "01", KCV: "a1b2c3"}

// generated writes the ceremony that made payments, imported into aws-prod and gcp-prod.
func generated(t *testing.T, root string) string {
	f := newFolder(t, root, "gen-2026", KindGenerate)
	f.step(stepGenerateKey, payments)
	f.backupSet(stepBackup, BackupFacts{SetID: "SETAAAA1", Threshold: 2, Custodians: []string{"Alice", "Bob", "Carol"}, Label: payments.Label, Spec: payments.Spec, KCV: payments.KCV})
	f.wrapFor(payments, awsProd(), false, nil)
	f.wrapFor(payments, gcpProd(), false, nil)
	return f.seal()
}

// rotated writes a rotation of payments found in the history of dirs: the new key, its set, and
// its packages as new versions of the same cloud keys.
func rotated(t *testing.T, root string, dirs ...string) (string, *RotationSource) {
	t.Helper()
	h, err := ReadHistory(dirs)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := checkRotation(h, RotatesPlan{Label: "payments", KCV: "a1b2c3"}, aes256Spec, []wrap.Target{awsProd(), gcpProd()}, loadFixture)
	if err != nil {
		t.Fatal(err)
	}
	src := rot.Source
	f := newFolder(t, root, "rotate-2027", "rotate")
	k := KeyFacts{Label: "payments-2027", Spec: "AES-256", ID: "02", KCV: "d4e5f6", Rotates: &src.Facts}
	f.step(stepGenerateKey, k)
	f.backupSet(stepBackup, BackupFacts{SetID: "SETBBBB2", Threshold: 2, Custodians: []string{"Alice", "Bob", "Dave"}, Label: k.Label, Spec: k.Spec, KCV: k.KCV})
	for _, tg := range []wrap.Target{awsProd(), gcpProd()} {
		f.wrapFor(k, tg, false, rot.NewVersions[tg.Name])
	}
	return f.seal(), src
}

// multiKey writes a ceremony of two keys sharing one set: its wraps and set name their keys.
func multiKey(t *testing.T, root string) string {
	f := newFolder(t, root, "multi-2027", KindGenerate)
	alpha := KeyFacts{Label: "alpha", Spec: "AES-256", ID: "03", KCV: "0a0b0c"}
	beta := KeyFacts{Label: "beta", Spec: "AES-256", ID: "04", KCV: "0d0e0f"}
	f.step(stepGenerateKey+":alpha", alpha)
	f.step(stepGenerateKey+":beta", beta)
	f.backupSet(stepBackup, BackupFacts{SetID: "SETCCCC3", Threshold: 2, Custodians: []string{"Erin", "Frank"},
		Keys: []BackedUpKey{{Label: "alpha", Spec: "AES-256", KCV: "0a0b0c", Manifest: "backup-SETCCCC3/alpha/manifest.json"},
			{Label: "beta", Spec: "AES-256", KCV: "0d0e0f", Manifest: "backup-SETCCCC3/beta/manifest.json"}}})
	f.wrapFor(alpha, awsProd(), true, nil) // made after beta's, to show attribution is by name
	f.wrapFor(beta, gcpProd(), true, nil)
	return f.seal()
}

// TestHistoryFindLinksTheRotatedKey: the key a rotation names is found by label and check value
// in verified folders, with its targets' latest packages and every folder pinned by the SHA-256
// of its checkpoint note.
func TestHistoryFindLinksTheRotatedKey(t *testing.T) {
	root := t.TempDir()
	gen := generated(t, root)
	h, err := ReadHistory([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.Find("payments", "a1b2c3", "")
	if err != nil {
		t.Fatal(err)
	}
	f := src.Facts
	// The checkpoint as sealed: the SHA-256 the engine shows for the paper log.
	checkpoint, _ := os.ReadFile(filepath.Join(gen, transcript.CheckpointFile))
	sum := sha256.Sum256(checkpoint)
	if f.Label != "payments" || f.Spec != "AES-256" || f.KCV != "a1b2c3" || f.Ceremony != "gen-2026" || f.Folder != gen ||
		f.CheckpointSHA256 != hex.EncodeToString(sum[:]) || f.Made.IsZero() {
		t.Errorf("facts %+v", f)
	}
	if len(f.History) != 1 || f.History[0] != (HistoryFolder{Folder: gen, Ceremony: "gen-2026", CheckpointSHA256: f.CheckpointSHA256}) {
		t.Errorf("history %+v", f.History)
	}
	// A witness's cosignature appended later changes the file, not the checkpoint as sealed.
	const cosigBytes = 4 + 8 + 64 // key ID, timestamp, Ed25519 signature (c2sp.org/tlog-cosignature)
	cosig := "— witness-wendy " + base64.StdEncoding.EncodeToString(make([]byte, cosigBytes)) + "\n"
	if err := os.WriteFile(filepath.Join(gen, transcript.CheckpointFile), append(checkpoint, cosig...), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := transcript.Verify(gen); !r.OK || len(r.Cosignatures) != 1 {
		t.Fatalf("the cosigned folder: %s, %d cosignatures", r.Problem, len(r.Cosignatures))
	}
	if h, err := ReadHistory([]string{root}); err != nil {
		t.Fatal(err)
	} else if again, err := h.Find("payments", "a1b2c3", ""); err != nil || again.Facts.CheckpointSHA256 != f.CheckpointSHA256 {
		t.Errorf("after a cosignature the checkpoint pinned is %q (%v), want %s", again.Facts.CheckpointSHA256, err, f.CheckpointSHA256)
	}
	wantKeys := map[string]string{
		"aws-prod": "KMS key arn:aws:kms:eu-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"gcp-prod": "projects/acme-kms/locations/europe-west2/keyRings/ceremony/cryptoKeys/payments",
	}
	if len(f.Targets) != 2 {
		t.Fatalf("targets %+v", f.Targets)
	}
	for _, tg := range f.Targets {
		manifest, _ := os.ReadFile(filepath.Join(tg.Package, wrap.ManifestName))
		msum := sha256.Sum256(manifest)
		if tg.CloudKey != wantKeys[tg.Name] || tg.Ceremony != "gen-2026" || tg.ManifestSHA256 != hex.EncodeToString(msum[:]) || src.Manifests[tg.Name] == nil {
			t.Errorf("target %+v", tg)
		}
	}
}

// TestHistoryRefusals: each refusal of the history lookup, with its exact message.
func TestHistoryRefusals(t *testing.T) {
	root := t.TempDir()
	gen := generated(t, root)
	bad := filepath.Join(t.TempDir(), "tampered")
	copyDir(t, gen, bad)
	// A byte of a signed package changed after the seal: the folder no longer verifies.
	manifest := filepath.Join(bad, "targets", "aws-prod", wrap.ManifestName)
	b, _ := os.ReadFile(manifest)
	os.WriteFile(manifest, append(b, ' '), 0o644)
	empty := t.TempDir()

	if _, err := ReadHistory(nil); err == nil || err.Error() != "a rotation needs the history of the keys it rotates; nothing was changed\n"+
		"hint: give the folders of the ceremonies that made them, and of every later ceremony of them, with --history DIR..." {
		t.Errorf("no history: %v", err)
	}
	r := transcript.Verify(bad)
	if _, err := ReadHistory([]string{root, bad}); err == nil || err.Error() != "history folder "+bad+" does not verify: "+r.Problem+"; nothing was changed\n"+
		"hint: a rotation links keys only through verified transcripts; check it with keyceremony verify "+bad+", or leave it out of --history" {
		t.Errorf("unverified folder: %v (verify says %q)", err, r.Problem)
	}
	if _, err := ReadHistory([]string{root, empty}); err == nil || err.Error() != "history folder "+empty+" holds no ceremony transcript; nothing was changed\n"+
		"hint: give ceremony folders (each holds transcript.jsonl), or folders that hold them" {
		t.Errorf("empty folder: %v", err)
	}
	h, err := ReadHistory([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		label, kcv, fingerprint, want string
	}{
		{"card-data", "a1b2c3", "", "the history (" + root + ") has no key card-data; nothing was changed\n" +
			"hint: give with --history the folder of the ceremony that made it, and of its later ceremonies"},
		{"payments", "ffffff", "", "the history has key payments with KCV a1b2c3, the plan says ffffff; nothing was changed\n" +
			"hint: a different check value or fingerprint is a different key: check rotates: in the plan against the paper log of the ceremony that made payments"},
		{"payments", "", "SHA256:00", "the history has key payments with KCV a1b2c3, the plan says fingerprint SHA256:00; nothing was changed\n" +
			"hint: a different check value or fingerprint is a different key: check rotates: in the plan against the paper log of the ceremony that made payments"},
	} {
		if _, err := h.Find(tc.label, tc.kcv, tc.fingerprint); err == nil || err.Error() != tc.want {
			t.Errorf("Find(%s, %s, %s):\n%v\nwant\n%s", tc.label, tc.kcv, tc.fingerprint, err, tc.want)
		}
	}

	// Once a verified rotation replaced it, the key is not rotated again.
	rotated(t, root, root)
	h, err = ReadHistory([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Find("payments", "a1b2c3", "")
	want := "key payments (KCV a1b2c3) was already rotated by ceremony rotate-2027 on " + time.Now().UTC().Format(time.DateOnly) +
		" into payments-2027 (KCV d4e5f6); nothing was changed\nhint: a key is rotated once; to rotate again, name payments-2027 in rotates:"
	if err == nil || err.Error() != want {
		t.Errorf("already rotated:\n%v\nwant\n%s", err, want)
	}
	if _, err := h.Find("payments-2027", "d4e5f6", ""); err != nil {
		t.Errorf("the new key cannot be rotated in turn: %v", err)
	}
}

// TestCheckTargets: a rotation's targets are the old key's, by name and profile.
func TestCheckTargets(t *testing.T) {
	root := t.TempDir()
	generated(t, root)
	h, err := ReadHistory([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.Find("payments", "a1b2c3", "")
	if err != nil {
		t.Fatal(err)
	}
	vault := wrap.Target{Name: "vault-prod", Profile: wrap.ProfileVault}
	asVault := gcpProd()
	asVault.Profile = wrap.ProfileVault
	for _, tc := range []struct {
		targets []wrap.Target
		want    string
	}{
		{[]wrap.Target{awsProd(), gcpProd()}, ""},
		{[]wrap.Target{awsProd()}, "key payments was imported into target gcp-prod, which the plan leaves out; nothing was changed\n" +
			"hint: a rotation replaces the key everywhere it was imported: give every one of its targets (aws-prod, gcp-prod)"},
		{[]wrap.Target{awsProd(), gcpProd(), vault}, "target vault-prod is not one of the targets key payments was imported into (aws-prod, gcp-prod); nothing was changed\n" +
			"hint: a rotation makes new versions of the old key's cloud keys: give its targets their earlier names; a new target needs a generate ceremony"},
		{[]wrap.Target{awsProd(), asVault}, "target gcp-prod was gcp for key payments, the plan says vault; nothing was changed\nhint: give the target the profile it had"},
	} {
		err := src.CheckTargets(tc.targets)
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.want {
				t.Errorf("CheckTargets: %s\nwant %s", got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("CheckTargets accepted %v; want %s", tc.targets, tc.want)
		}
	}
}

// TestInventoryRotationAndSeveralKeysGolden: the inventory of a history with a rotation and a
// ceremony of two keys sharing a set, text and JSON, against testdata/history/*.golden. The
// rotated key says what rotated it, is no longer due and keeps its set; the new key says what it
// rotates; each key of the shared set has the set and its own package.
func TestInventoryRotationAndSeveralKeysGolden(t *testing.T) {
	root := t.TempDir()
	generated(t, root)
	rotated(t, root, root)
	multiKey(t, root)
	inv, err := Inventory(root)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second).Add(time.Second).AddDate(0, 0, 400) // whole seconds, as JSON writes it
	inv.Assess(Policy{Now: now, RotateAfter: 365, CheckInInterval: 365, ReimportWarn: 30})
	var text strings.Builder
	WriteInventory(&text, inv)
	var js strings.Builder
	if err := WriteInventoryJSON(&js, inv); err != nil {
		t.Fatal(err)
	}
	if fails := inv.Failures([]string{"due"}); strings.Contains(strings.Join(fails, "\n"), "key payments: rotation") {
		t.Errorf("the rotated key is still due for rotation: %q", fails)
	}
	for name, got := range map[string]string{"inventory.txt": text.String(), "inventory.json": js.String()} {
		got = normalizeHistory(got, root, now)
		golden := filepath.Join("testdata", "history", name+".golden")
		if *updateHistory {
			os.MkdirAll(filepath.Dir(golden), 0o755)
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v\nhint: go test ./ceremony -run TestInventoryRotationAndSeveralKeysGolden -update-history", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s (-update-history rewrites it):\n%s", name, golden, got)
		}
	}
}

// normalizeHistory replaces what differs between runs: the folder, today's date and the one the
// report is judged at, times, fingerprints and checkpoint sums.
func normalizeHistory(s, root string, now time.Time) string {
	today := time.Now().UTC()
	for _, r := range []struct{ old, new string }{
		{root, "ROOT"},
		{now.Format(time.RFC3339), "NOW"},
		{today.AddDate(0, 0, 365).Format(time.DateOnly), "TODAY+365"},
		{today.Format(time.DateOnly), "TODAY"},
	} {
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, field := range []string{`"time": "`, `"made": "`, `"sealed": "`, `"wrapped": "`, `"last_verified": "`, `"next_due": "`, `"rotation_due": "`, `"parameters_valid_to": "`} {
			if i := strings.Index(line, field); i >= 0 {
				line = line[:i+len(field)] + "T" + line[strings.LastIndex(line, `"`):]
			}
		}
		for _, field := range []string{`"signing_key": "`, `"checkpoint_sha256": "`} {
			if i := strings.Index(line, field); i >= 0 {
				line = line[:i+len(field)] + "X" + line[strings.LastIndex(line, `"`):]
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckRotation: a rotation's key must be of the old key's type, go to the old key's
// targets, each for the same cloud key; rotates: itself is checked with the plan.
func TestCheckRotation(t *testing.T) {
	root := t.TempDir()
	generated(t, root)
	h, err := ReadHistory([]string{root})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := checkRotation(h, RotatesPlan{Label: "payments", KCV: "a1b2c3"}, aes256Spec, []wrap.Target{awsProd(), gcpProd()}, loadFixture)
	if err != nil {
		t.Fatal(err)
	}
	if rot.NewVersions["aws-prod"].Path != wrap.NewVersionAWSRotation || rot.NewVersions["gcp-prod"].Path != wrap.NewVersionGCP {
		t.Errorf("new versions %+v %+v", rot.NewVersions["aws-prod"], rot.NewVersions["gcp-prod"])
	}
	otherKey := gcpProd()
	otherKey.KeyName = "payments-2027"
	for _, tc := range []struct {
		name    string
		spec    hsmspec.KeySpec
		targets []wrap.Target
		want    string
	}{
		{"another type", hsmspec.KeySpec{Type: hsmspec.HMAC, Bits: 256}, []wrap.Target{awsProd(), gcpProd()},
			"the history has key payments as AES-256, the plan makes HMAC-256; nothing was changed\nhint: a rotation makes a new version of the same kind of key: give the key the type of the one it replaces"},
		{"another crypto key", aes256Spec, []wrap.Target{awsProd(), otherKey},
			`target "gcp-prod": these import parameters are for projects/acme-kms/locations/europe-west2/keyRings/ceremony/cryptoKeys/payments-2027, but the key it rotates was imported into projects/acme-kms/locations/europe-west2/keyRings/ceremony/cryptoKeys/payments` +
				"\nhint: a rotation adds a version to the same cloud key; give the target that key's names"},
	} {
		if _, err := checkRotation(h, RotatesPlan{Label: "payments", KCV: "a1b2c3"}, tc.spec, tc.targets, loadFixture); err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n%v\nwant\n%s", tc.name, err, tc.want)
		}
	}
	ec := hsmspec.KeySpec{Type: hsmspec.EC, Curve: "P-256"}
	for _, tc := range []struct {
		r    RotatesPlan
		spec hsmspec.KeySpec
		want string
	}{
		{RotatesPlan{KCV: "a1b2c3"}, aes256Spec, "plan: key k: rotates.label is missing; nothing was changed\nhint: name the key it replaces, as the paper log of its ceremony has it"},
		{RotatesPlan{Label: "old", KCV: "A1B2C3"}, aes256Spec, "plan: key k: rotates.kcv \"A1B2C3\" is not a key check value; nothing was changed\nhint: copy it from the paper log of the ceremony that made old: 6 lowercase hex digits"},
		{RotatesPlan{Label: "old", KCV: "a1b2c3", Fingerprint: "SHA256:00"}, aes256Spec, "plan: key k: rotates gives both kcv and fingerprint; nothing was changed\nhint: a secret key is named by its kcv, a key pair by its fingerprint"},
		{RotatesPlan{Label: "old", KCV: "a1b2c3"}, ec, "plan: key k: rotates.fingerprint \"\" is not a public key fingerprint; nothing was changed\nhint: copy it from the paper log of the ceremony that made old: SHA256: and 64 lowercase hex digits"},
		{RotatesPlan{Label: "old", Fingerprint: "SHA256:" + strings.Repeat("0f", 32)}, ec, ""},
	} {
		err := tc.r.validate("k", tc.spec)
		if got := fmt.Sprint(err); err != nil && got != tc.want || err == nil && tc.want != "" {
			t.Errorf("validate(%+v):\n%v\nwant\n%s", tc.r, err, tc.want)
		}
	}
}
