package ceremony

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// printer answers as custodians at the ceremony would when their share is printed: each types
// back the four lines of their card, read here from the PDF by pdftotext.
type printer struct {
	Headless
	t *testing.T
}

func (p *printer) Terminal() bool { return true }

func (p *printer) Secret(r SecretRequest) ([]byte, error) {
	switch r.Purpose {
	case "user-pin":
		return []byte(softhsmtest.PIN), nil
	case "so-pin":
		return []byte(softhsmtest.SOPIN), nil
	}
	return nil, fmt.Errorf("unexpected secret %s", r.Purpose)
}

func (p *printer) EnterShare(r ShareRequest) (string, error) {
	if f := p.files[r.Custodian.Name]; strings.HasSuffix(f, ".pdf") {
		return cardLines(p.t, f), nil
	}
	return p.Headless.EnterShare(r)
}

// cardLines are the typed lines pdftotext reads from a share card: the lines whose check
// characters hold, as a person types them from the paper.
func cardLines(t *testing.T, card string) string {
	t.Helper()
	var typed []string
	for _, l := range strings.Split(pdftotext(t, card), "\n") {
		l = strings.TrimSpace(l)
		if n := len(typed) + 1; n <= backup.TypedLines && backup.CheckTypedLine(n, l) == nil {
			typed = append(typed, l)
		}
	}
	if len(typed) != backup.TypedLines {
		t.Fatalf("pdftotext read %d typed lines from %s", len(typed), card)
	}
	return strings.Join(typed, "\n") + "\n"
}

func pdftotext(t *testing.T, pdf string) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext %s (poppler-utils; scripts/setup installs it): %v", pdf, err)
	}
	return string(out)
}

// TestShareCards runs a ceremony whose first custodian's share is printed: the card is a
// one-page PDF in the handouts folder, never in the record, which keeps its SHA-256; it says
// what the share is for and renders; and its typed lines, read back by pdftotext, restore the
// key with another custodian's share into a fresh SoftHSM2 token.
func TestShareCards(t *testing.T) {
	bob, _ := age.GenerateX25519Identity()
	carol, _ := age.GenerateX25519Identity()
	p, planPath := generatePlan(t, fmt.Sprintf(`  threshold: 2
  handouts: media
  custodians:
    - {name: Alice Liddell, delivery: print}
    - {name: Bob, delivery: age-recipient, recipient: %s}
    - {name: Carol, delivery: age-recipient, recipient: %s}
`, bob.Recipient(), carol.Recipient()))
	dir := filepath.Dir(planPath)
	ui := &printer{Headless: Headless{Log: io.Discard}, t: t}
	if err := Run(Options{Plan: p, PlanPath: planPath, UI: ui, Identities: []age.Identity{bob, carol}}); err != nil {
		t.Fatal(err)
	}
	out := p.OutputDir()
	if r := transcript.Verify(out); !r.OK {
		t.Fatalf("the ceremony does not verify: %s", r.Problem)
	}
	cards, _ := filepath.Glob(filepath.Join(dir, "media", "backup-*", "share-1-*.pdf"))
	inRecord, _ := filepath.Glob(filepath.Join(out, "*", "*.pdf"))
	if len(cards) != 1 || len(inRecord) != 0 {
		t.Fatalf("share cards: %v in the handouts folder, %v in the record", cards, inRecord)
	}
	card := cards[0]
	setID := strings.TrimPrefix(filepath.Base(filepath.Dir(card)), "backup-")

	// The record keeps the card's SHA-256 and where it went, never its text.
	data, _ := os.ReadFile(card)
	sum := sha256.Sum256(data)
	var facts HandoutFacts
	for _, ev := range readEventsOf(t, out) {
		if ev.Step == "handout:1" {
			json.Unmarshal(ev.Facts, &facts)
		}
	}
	if facts.Delivery != DeliveryPrint || facts.HandoutFile != card || facts.HandoutSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("handout:1 records %+v; the card is %s with SHA-256 %x", facts, card, sum)
	}
	typed := cardLines(t, card)
	record, _ := os.ReadFile(filepath.Join(out, transcript.TranscriptFile))
	for _, l := range strings.Split(strings.TrimSpace(typed), "\n") {
		if strings.Contains(string(record), l) {
			t.Fatalf("the transcript holds a line of the share: %s", l)
		}
	}

	text := pdftotext(t, card)
	for _, want := range []string{"Share 1, any 2 of 3 restore", "Alice Liddell", "handouts", setID, "Restore and check-in"} {
		if !strings.Contains(text, want) {
			t.Errorf("the card does not say %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\f"); n != 1 {
		t.Errorf("the card has %d pages, want 1", n)
	}
	if err := exec.Command("pdftoppm", "-r", "30", "-png", card, filepath.Join(t.TempDir(), "card")).Run(); err != nil {
		t.Fatalf("pdftoppm cannot render the card: %v", err)
	}

	// Alice's printed lines and Bob's file restore the key in a fresh token.
	typedFile := filepath.Join(t.TempDir(), "alice.txt")
	os.WriteFile(typedFile, []byte(typed), 0o600)
	bobs, _ := filepath.Glob(filepath.Join(dir, "media", "backup-"+setID, "share-2-*.age"))
	rp, restorePath := restorePlan(t, dir, setID)
	rui := &printer{Headless: Headless{Log: io.Discard, ShareFiles: append([]string{typedFile}, bobs...)}, t: t}
	if err := Run(Options{Plan: rp, PlanPath: restorePath, UI: rui, Identities: []age.Identity{bob}}); err != nil {
		t.Fatal(err)
	}
	var made, restored KeyFacts
	for _, ev := range readEventsOf(t, out) {
		if ev.Step == "generate-key" {
			json.Unmarshal(ev.Facts, &made)
		}
	}
	for _, ev := range readEventsOf(t, rp.OutputDir()) {
		if ev.Step == "restore-key" {
			json.Unmarshal(ev.Facts, &restored)
		}
	}
	if made.KCV == "" || restored.KCV != made.KCV {
		t.Fatalf("restored key check value %q, generated %q", restored.KCV, made.KCV)
	}
}

func readEventsOf(t *testing.T, dir string) []transcript.Event {
	t.Helper()
	r := transcript.Verify(dir)
	if !r.OK {
		t.Fatalf("%s does not verify: %s", dir, r.Problem)
	}
	return r.Chain
}

// restorePlan writes, beside the generate plan in dir, a restore plan of key "k" from set setID
// (sealed in dir/out) into a fresh SoftHSM2 token, and loads it.
func restorePlan(t *testing.T, dir, setID string) (*Plan, string) {
	t.Helper()
	return writeRestorePlan(t, dir, "k", "out/backup-"+setID, "[out]", "")
}

// writeRestorePlan writes a restore plan of the key labelled label from the manifest and blob in
// the folder set (relative to dir), whose status the ceremony folders ceremonies (a YAML list)
// record, with more YAML appended (targets), into a fresh SoftHSM2 token, and loads it.
func writeRestorePlan(t *testing.T, dir, label, set, ceremonies, more string) (*Plan, string) {
	t.Helper()
	module := softhsmtest.NewToken(t, "restored")
	restore := "version: 1\nkind: restore\nceremony: restore\ntoken: {module: " + module + ", token: restored}\n" +
		"key: {label: " + label + ", type: AES-256}\nparticipants: [{role: administrator, name: Ada}, {role: security-officer, name: Sam}, {role: witness, name: Wendy}]\n" +
		"restore: {manifest: " + set + "/backup-manifest.json, blob: " + set + "/backup-blob.bin, ceremonies: " + ceremonies + "}\noutput: restored\n" + more
	path := filepath.Join(dir, "restore.yaml")
	if err := os.WriteFile(path, []byte(restore), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, path
}
