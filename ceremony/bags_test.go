package ceremony

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// TestBags: a plan with backup.bags records each share's bag serial at its handout; a headless
// run without a valid serial for every custodian is refused before anything is made; a restore
// compares the serials typed again, and a mismatch is an exception the witness acknowledges.
func TestBags(t *testing.T) {
	ids := make([]*age.X25519Identity, 3)
	var section strings.Builder
	section.WriteString("  threshold: 2\n  handouts: media\n  bags: true\n  custodians:\n")
	for i, name := range []string{"Alice", "Bob", "Carol"} {
		ids[i], _ = age.GenerateX25519Identity()
		fmt.Fprintf(&section, "    - {name: %s, delivery: age-recipient, recipient: %s}\n", name, ids[i].Recipient())
	}
	p, planPath := generatePlan(t, section.String())
	dir := filepath.Dir(planPath)
	identities := []age.Identity{ids[0], ids[1], ids[2]}
	headless := func(files ...string) *Headless {
		return &Headless{Log: io.Discard, Secrets: secrets, ShareFiles: files}
	}

	for _, tc := range []struct {
		serials map[string]string
		want    string
	}{
		{map[string]string{"Alice": "TB-0001", "Bob": "TB-0002"}, "custodian Carol's share goes into a tamper-evident bag (backup.bags) and this run is headless: no bag serial was given; nothing was made\nhint: pass --bag Carol=SERIAL for each custodian"},
		{map[string]string{"Alice": "TB 0001!", "Bob": "TB-0002", "Carol": "TB-0003"}, "custodian Alice's share goes into a tamper-evident bag (backup.bags) and this run is headless: a bag serial has letters, digits and dashes only; type it as printed on the bag; nothing was made\nhint: pass --bag Alice=SERIAL for each custodian"},
	} {
		err := Run(Options{Plan: p, PlanPath: planPath, UI: headless(), Identities: identities, BagSerials: tc.serials})
		if err == nil || err.Error() != tc.want {
			t.Fatalf("error %v, want %q", err, tc.want)
		}
		if _, err := os.Stat(p.OutputDir()); !os.IsNotExist(err) {
			t.Fatalf("the refused run made %s", p.OutputDir())
		}
	}

	serials := map[string]string{"Alice": "TB-0001", "Bob": "TB-0002", "Carol": "TB-0003"}
	if err := Run(Options{Plan: p, PlanPath: planPath, UI: headless(), Identities: identities, BagSerials: serials}); err != nil {
		t.Fatal(err)
	}
	out := p.OutputDir()
	setID := ""
	for _, ev := range readEventsOf(t, out) {
		var f HandoutFacts
		if strings.HasPrefix(ev.Step, "handout:") && json.Unmarshal(ev.Facts, &f) == nil {
			setID = f.SetID
			if f.Bag == nil || f.Bag.Serial != serials[f.Custodian] || f.Bag.TypedBy.How != ConfirmedHeadless || f.Bag.TypedBy.By.Name != f.Custodian {
				t.Errorf("%s records bag %+v, want serial %s typed by %s", ev.Step, f.Bag, serials[f.Custodian], f.Custodian)
			}
		}
	}

	// Restore from Alice's and Bob's shares: Alice's bag reads the same (case does not count),
	// Bob's does not.
	shares, _ := filepath.Glob(filepath.Join(dir, "media", "backup-"+setID, "share-[12]-*.age"))
	rp, restorePath := restorePlan(t, dir, setID)
	typedAgain := map[string]string{"Alice": "tb-0001", "Bob": "TB-0020"}
	if err := Run(Options{Plan: rp, PlanPath: restorePath, UI: headless(shares...), Identities: identities, BagSerials: typedAgain}); err != nil {
		t.Fatal(err)
	}
	var collect CollectFacts
	var exceptions []string
	for _, ev := range readEventsOf(t, rp.OutputDir()) {
		switch {
		case ev.Step == "collect-shares" && ev.Kind == transcript.KindStep:
			json.Unmarshal(ev.Facts, &collect)
		case ev.Kind == transcript.KindException:
			var f ExceptionFacts
			json.Unmarshal(ev.Facts, &f)
			exceptions = append(exceptions, ev.Step+": "+f.Exception)
		}
	}
	if len(collect.Bags) != 2 {
		t.Fatalf("collect-shares records %d bag inspections, want 2: %+v", len(collect.Bags), collect.Bags)
	}
	for _, b := range collect.Bags {
		switch b.Custodian {
		case "Alice":
			if !b.Match || b.Recorded != "TB-0001" || b.Typed != "tb-0001" || b.Acknowledged != nil {
				t.Errorf("Alice's bag: %+v", b)
			}
		case "Bob":
			if b.Match || b.Recorded != "TB-0002" || b.Typed != "TB-0020" || b.Acknowledged == nil || b.Acknowledged.By.Name != "Wendy" {
				t.Errorf("Bob's bag: %+v", b)
			}
		}
	}
	want := `collect-shares: the bag of Bob's share 2 reads "TB-0020", its handout recorded "TB-0002": the share may have been taken out`
	found := false
	for _, e := range exceptions {
		found = found || e == want
	}
	if !found {
		t.Errorf("exceptions %q, want %q", exceptions, want)
	}
}

func secrets(purpose string) ([]byte, error) {
	switch purpose {
	case "user-pin":
		return []byte(softhsmtest.PIN), nil
	case "so-pin":
		return []byte(softhsmtest.SOPIN), nil
	}
	return nil, fmt.Errorf("unexpected secret %s", purpose)
}

// bagTyper is a custodian at the screen typing bag serials, one answer per prompt.
type bagTyper struct {
	Headless
	answers []string
	asked   []ConfirmRequest
}

func (b *bagTyper) Mode() string { return ModeLine }

func (b *bagTyper) Confirm(r ConfirmRequest) (string, error) {
	b.asked = append(b.asked, r)
	a := b.answers[0]
	b.answers = b.answers[1:]
	return a, nil
}

// TestHandoutBagTyped: at the screen, a serial that is empty or not as printed on a bag is asked
// again with the reason; three such answers stop the handout.
func TestHandoutBagTyped(t *testing.T) {
	alice := CustodianPlan{Name: "Alice", Delivery: DeliveryAgeRecipient}
	ui := &bagTyper{answers: []string{"", "TB 1!", " TB-0001 "}}
	e := &engine{ui: ui}
	got, err := e.handoutBag(alice, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := BagFacts{Serial: "TB-0001", TypedBy: Confirmation{By: Actor{Role: RoleCustodian, Name: "Alice"}, How: ConfirmedTypedBack}}
	if *got != want {
		t.Fatalf("got %+v, want %+v", *got, want)
	}
	if !ui.asked[0].Reason || ui.asked[0].Prompt != "Alice: seal share 1 in its tamper-evident bag in front of the witness, then type the bag's serial as printed on it" {
		t.Errorf("first prompt %+v", ui.asked[0])
	}
	if ui.asked[1].LastError != "no bag serial was given" || ui.asked[2].LastError != "a bag serial has letters, digits and dashes only; type it as printed on the bag" {
		t.Errorf("reasons given: %q, %q", ui.asked[1].LastError, ui.asked[2].LastError)
	}

	ui = &bagTyper{answers: []string{"", "", strings.Repeat("A", 41)}}
	e.ui = ui
	_, err = e.handoutBag(alice, 1)
	const refusal = "no bag serial for Alice's share 1 after 3 attempts: a bag serial has at most 40 characters, 41 were typed\nhint: the share set is not sealed; resume with the bag at hand"
	if err == nil || err.Error() != refusal {
		t.Fatalf("error %v, want %q", err, refusal)
	}
}

// TestRestoreBagTyped: at a restore, each custodian types the serial of the bag their share came
// out of at the screen; one that reads as recorded (case aside) asks nothing more, one that
// differs is put to the witness, who must type yes for the share to be used.
func TestRestoreBagTyped(t *testing.T) {
	p, _ := generatePlan(t, "  threshold: 2\n  bags: true\n  custodians: [{name: Alice, delivery: typed}, {name: Bob, delivery: typed}]\n")
	ui := &bagTyper{answers: []string{"tb-0001"}}
	e := &engine{ui: ui, plan: p, whole: p, oldBags: map[int]string{1: "TB-0001", 2: "TB-0002"}, seen: map[string]bool{}}
	b, err := e.inspectBag("Alice", 1)
	if err != nil {
		t.Fatal(err)
	}
	alice := Confirmation{By: Actor{Role: RoleCustodian, Name: "Alice"}, How: ConfirmedTypedBack}
	if !b.Match || b.Acknowledged != nil || b.Typed != "tb-0001" || b.TypedBy != alice || len(ui.asked) != 1 ||
		ui.asked[0].Prompt != "Serial of the bag Alice's share 1 came out of, as printed on it" {
		t.Fatalf("Alice's bag %+v, asked %+v", b, ui.asked)
	}

	ui = &bagTyper{answers: []string{"TB-0020", "yes"}} // the interface takes nothing but yes (ui/confirm.go)
	e.ui = ui
	b, err = e.inspectBag("Bob", 2)
	if err != nil {
		t.Fatal(err)
	}
	wendy := Confirmation{By: Actor{Role: RoleWitness, Name: "Wendy"}, How: ConfirmedTypedYes}
	if b.Match || b.Acknowledged == nil || *b.Acknowledged != wendy {
		t.Fatalf("Bob's bag %+v", b)
	}
	if len(ui.asked) != 2 || ui.asked[1].Actor.Name != "Wendy" ||
		ui.asked[1].Prompt != "Wendy: the bag of share 2 does not match its handout record; type yes to use the share all the same" ||
		!strings.HasPrefix(ui.asked[1].Detail, `the bag of Bob's share 2 reads "TB-0020", its handout recorded "TB-0002"`) {
		t.Errorf("the witness was asked %+v", ui.asked[1:])
	}
}
