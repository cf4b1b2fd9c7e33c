package ceremony

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// custodians answers the engine as three custodians at the screen would: Alice learns the
// passphrase the tool shows her (and mistypes it once), Bob chooses his own (a weak one first),
// Carol's share goes to her age key.
type custodians struct {
	Headless
	shown   map[int][]byte // the passphrase shown to custodian N
	chosen  [][]byte       // what Bob types when asked to choose, in turn
	final   map[int][]byte // the passphrase custodian N's file was made with
	mistype bool           // Alice's first read-back is wrong
}

// Terminal: the custodians are at the screen, though the rest of the run is headless.
func (c *custodians) Terminal() bool { return true }

func (c *custodians) ShowShare(h ShareHandout) error {
	if h.Passphrase != nil {
		c.shown[h.Index] = bytes.Clone(h.Passphrase)
		return nil
	}
	return c.Headless.ShowShare(h)
}

func (c *custodians) Secret(r SecretRequest) ([]byte, error) {
	var n int
	switch {
	case r.Purpose == "user-pin":
		return []byte(softhsmtest.PIN), nil
	case r.Purpose == "so-pin":
		return []byte(softhsmtest.SOPIN), nil
	case sscan(r.Purpose, "passphrase-readback:%d", &n):
		if p, ok := c.shown[n]; ok {
			if c.mistype {
				c.mistype = false
				return []byte("abandon abandon"), nil
			}
			c.final[n] = p
			return bytes.Clone(p), nil
		}
		return bytes.Clone(c.final[n]), nil
	case sscan(r.Purpose, "passphrase:%d", &n):
		if p, ok := c.final[n]; ok && c.files[r.Actor.Name] != "" {
			return bytes.Clone(p), nil // the verification round opens the file
		}
		p := c.chosen[0]
		c.chosen = c.chosen[1:]
		c.final[n] = p
		return bytes.Clone(p), nil
	}
	return nil, fmt.Errorf("unexpected secret %s", r.Purpose)
}

func sscan(s, format string, n *int) bool {
	_, err := fmt.Sscanf(s, format, n)
	return err == nil && fmt.Sprintf(format, *n) == s
}

// generatePlan writes a generate plan of an AES-256 key on a fresh SoftHSM2 token into a new
// folder, with backup as its backup section, and loads it.
func generatePlan(t *testing.T, backupSection string) (*Plan, string) {
	module := softhsmtest.NewToken(t, "test")
	dir := t.TempDir()
	text := "version: 1\nkind: generate\nceremony: handouts\ntoken: {module: " + module + ", token: test}\n" +
		"key: {label: k, type: AES-256}\nparticipants: [{role: administrator, name: Ada}, {role: security-officer, name: Sam}, {role: witness, name: Wendy}]\n" +
		"backup:\n" + backupSection + "output: out\n"
	path := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, path
}

// TestPassphraseHandouts runs a ceremony on a SoftHSM2 token: a generated passphrase round-trips
// (shown, typed back, the file opens with it), a weak chosen one is refused with its reason, a
// failed read-back is recorded without the passphrase, and the share files are in the handouts
// folder, never in the ceremony folder, which verifies without them.
func TestPassphraseHandouts(t *testing.T) {
	carol, _ := age.GenerateX25519Identity()
	p, planPath := generatePlan(t, fmt.Sprintf(`  threshold: 2
  handouts: media
  custodians:
    - {name: Alice, delivery: age-passphrase}
    - {name: Bob, delivery: age-passphrase, passphrase: chosen}
    - {name: Carol, delivery: age-recipient, recipient: %s}
`, carol.Recipient()))
	dir := filepath.Dir(planPath)
	os.Mkdir(filepath.Join(dir, "media"), 0o700)
	const weak = "correct horse battery staple"
	const bobs = "quartz meadow lantern fiddle harbour crimson walnut seventy glacier pepper tundra osprey"
	ui := &custodians{Headless: Headless{Log: io.Discard}, shown: map[int][]byte{}, final: map[int][]byte{},
		chosen: [][]byte{[]byte(weak), []byte(bobs)}, mistype: true}
	err := Run(Options{Plan: p, PlanPath: planPath, UI: ui, Identities: []age.Identity{carol}})
	if err != nil {
		t.Fatal(err)
	}
	alice := ui.shown[1]
	if len(strings.Fields(string(alice))) != backup.PassphraseWords {
		t.Fatalf("Alice was shown %d words", len(strings.Fields(string(alice))))
	}

	out := p.OutputDir()
	if r := transcript.Verify(out); !r.OK {
		t.Fatalf("the ceremony does not verify: %s", r.Problem)
	}
	inRecord, _ := filepath.Glob(filepath.Join(out, "*", "*.age"))
	files, _ := filepath.Glob(filepath.Join(dir, "media", "backup-*", "share-*.age"))
	if len(inRecord) != 0 || len(files) != 3 {
		t.Fatalf("share files: %v in the record, %v in the handouts folder", inRecord, files)
	}
	// Alice's file opens with the passphrase she was shown.
	data, _ := os.ReadFile(filepath.Join(filepath.Dir(files[0]), "share-1-alice.age"))
	id, _ := backup.PassphraseIdentity(alice)
	if sh, err := backup.DecryptAge(data, id); err != nil || sh.Index != 1 {
		t.Fatalf("Alice's file with her passphrase: share %d, %v", sh.Index, err)
	}

	record, _ := os.ReadFile(filepath.Join(out, transcript.TranscriptFile))
	for _, secret := range []string{string(alice), weak, bobs, "abandon abandon"} {
		if bytes.Contains(record, []byte(secret)) {
			t.Fatalf("the transcript holds a passphrase %q", secret)
		}
	}
	var exceptions []string
	handouts := map[string]string{}
	events, _ := transcript.Read(out)
	for _, ev := range events {
		if ev.Kind == transcript.KindException {
			exceptions = append(exceptions, string(ev.Facts))
		}
		if strings.HasPrefix(ev.Step, "handout:") {
			handouts[ev.Step] = string(ev.Facts)
		}
	}
	for step, want := range map[string]string{
		"handout:1": `"passphrase":"10 words made by the tool (110 bits)","passphrase_confirmed":"typed-back by Alice"`,
		"handout:2": `"passphrase":"chosen by the custodian, at least 100 bits by the conservative estimate","passphrase_confirmed":"typed-back by Bob"`,
	} {
		if !strings.Contains(handouts[step], want) {
			t.Errorf("%s facts %s lack %s", step, handouts[step], want)
		}
	}
	want := []string{
		`{"exception":"Alice's passphrase was not typed back correctly (attempt 1)"}`,
		`{"exception":"Bob's chosen passphrase was refused (attempt 1): the passphrase is too weak: about 30 bits by a conservative estimate, 100 needed"}`,
	}
	if strings.Join(exceptions, "\n") != strings.Join(want, "\n") {
		t.Fatalf("exceptions:\n%s\nwant\n%s", strings.Join(exceptions, "\n"), strings.Join(want, "\n"))
	}
}

// planter plants a symbolic link from the handouts folder into the ceremony folder while the
// share set is being made: after every check, before the first share file.
type planter struct {
	Headless
	plant func()
}

func (p *planter) Busy(title string) func() {
	if strings.Contains(title, "share set") {
		p.plant()
	}
	return p.Headless.Busy(title)
}

// TestHandoutsLinkedIntoRecord: a handouts folder that turns into a link to the ceremony folder
// after the plan was checked is caught before any share file is written; the abort then destroys
// the unsealed set and the record verifies.
func TestHandoutsLinkedIntoRecord(t *testing.T) {
	alice, _ := age.GenerateX25519Identity()
	bob, _ := age.GenerateX25519Identity()
	p, planPath := generatePlan(t, fmt.Sprintf(`  threshold: 2
  custodians:
    - {name: Alice, delivery: age-recipient, recipient: %s}
    - {name: Bob, delivery: age-recipient, recipient: %s}
`, alice.Recipient(), bob.Recipient()))
	secrets := func(purpose string) ([]byte, error) {
		if purpose == "so-pin" {
			return []byte(softhsmtest.SOPIN), nil
		}
		return []byte(softhsmtest.PIN), nil
	}
	ui := &planter{Headless: Headless{Log: io.Discard, Secrets: secrets}, plant: func() {
		if err := os.Symlink("out", p.HandoutsDir()); err != nil {
			t.Error(err)
		}
	}}
	err := Run(Options{Plan: p, PlanPath: planPath, UI: ui, Identities: []age.Identity{alice, bob}})
	want := "handouts folder " + p.HandoutsDir() + " leads to " + p.OutputDir() + ", inside the ceremony folder; no share file was written"
	if err == nil || firstLine(err.Error()) != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if found, _ := filepath.Glob(filepath.Join(p.OutputDir(), "*", "*.age")); len(found) != 0 {
		t.Fatalf("share files in the record: %v", found)
	}
	err = Run(Options{Plan: p, PlanPath: planPath, UI: &Headless{Log: io.Discard, Secrets: secrets}, Abort: true, AbortReason: "the test ends it"})
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(p.OutputDir(), "backup-*")); len(left) != 0 {
		t.Fatalf("the void set is still there: %v", left)
	}
	if r := transcript.Verify(p.OutputDir()); !r.OK {
		t.Fatalf("the aborted ceremony does not verify: %s", r.Problem)
	}
}
