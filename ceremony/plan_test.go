package ceremony

import (
	"path/filepath"
	"strings"
	"testing"
)

const goodPlan = `version: 1
kind: generate
ceremony: acme-2026
token: {module: /usr/lib/softhsm/libsofthsm2.so, token: rehearsal}
key: {label: acme-data, type: AES-256}
participants:
  - {role: administrator, name: Ada}
  - {role: security-officer, name: Sam}
  - {role: witness, name: Wendy}
backup:
  threshold: 2
  custodians:
    - {name: Alice, delivery: typed}
    - {name: Bob, delivery: age-passphrase}
    - {name: Carol, delivery: age-recipient, recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq}
output: out
`

func TestParsePlanGood(t *testing.T) {
	p, err := ParsePlan([]byte(goodPlan), "/plans")
	if err != nil {
		t.Fatal(err)
	}
	if p.HandoutsDir() != "/plans/out-handouts" {
		t.Errorf("handouts folder %s, want the output's sibling /plans/out-handouts", p.HandoutsDir())
	}
	if p.KeySpec().String() != "AES-256" || p.OutputDir() != "/plans/out" || len(p.SHA256()) != 64 {
		t.Errorf("plan: spec %s, output %s, sum %q", p.KeySpec(), p.OutputDir(), p.SHA256())
	}
	want := []string{"open-token", "begin", "trust", "generate-key", "handout:1", "handout:2", "handout:3",
		"verify-share:1", "verify-share:2", "verify-share:3", "backup", "custody", "seal"}
	steps := p.Script()
	var got []string
	for _, s := range steps {
		got = append(got, s.ID)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("script ids:\n got %v\nwant %v", got, want)
	}
	if steps[0].Actor.String() != "Sam (security-officer)" || steps[5].Actor.String() != "Bob (custodian)" {
		t.Errorf("actors: %s, %s", steps[0].Actor, steps[5].Actor)
	}
	text := FormatScript(steps)
	for _, line := range []string{` 1. Open token "rehearsal" and log in`, ` 3. Record the keys the security officer marked trusted`, ` 4. Generate the AES-256 key "acme-data" in the HSM`, `11. Seal the 2-of-3 backup`, `12. Leave the token as the plan says`} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("script lacks %q:\n%s", line, text)
		}
	}
}

// TestParsePlanErrors checks each refusal's exact first line: each says what is wrong.
func TestParsePlanErrors(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"misspelt key", "  threshold: 2", "  treshold: 2", `plan: line 11: unknown key "treshold" in backup`},
		{"unknown top-level key", "output: out", "output: out\npin: 1234", `plan: line 17: unknown key "pin" in the top level`},
		{"version", "version: 1", "version: 2", "plan: version is 2, want 1"},
		{"kind", "kind: generate", "kind: mint", `plan: kind "mint" is unknown`},
		{"ceremony id", "acme-2026", "Acme 2026", `plan: ceremony "Acme 2026" is not a valid id`},
		{"pin in uri", "token: rehearsal}", "token: 'pkcs11:token=x?pin-value=1'}", "plan: token.token carries a PIN; PINs never go in a plan"},
		{"key type", "type: AES-256", "type: AES-512", "plan: key.type: "},
		{"no label", "label: acme-data, ", "", "plan: key.label is missing"},
		{"no witness", "  - {role: witness, name: Wendy}\n", "", "plan: no witness among the participants"},
		{"custodian as participant", "  - {role: witness, name: Wendy}", "  - {role: witness, name: Wendy}\n  - {role: custodian, name: Zed}", `plan: participant "Zed": custodians are named in the backup section, not as participants`},
		{"threshold 1", "threshold: 2", "threshold: 1", "plan: backup.threshold is 1; at least 2 custodians must be needed to restore"},
		{"threshold above n", "threshold: 2", "threshold: 4", "plan: backup.threshold is 4 but only 3 custodians are named"},
		{"duplicate custodian", "name: Bob,", "name: alice,", `plan: custodian "alice" is named twice`},
		{"delivery", "delivery: typed", "delivery: email", `plan: custodian "Alice" has delivery "email"`},
		{"recipient missing", ", recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "", `plan: custodian "Carol": delivery age-recipient needs a recipient (age1... or an SSH public key)`},
		{"bad recipient", "recipient: age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "recipient: age1notakey", `plan: custodian "Carol": not an age or SSH public key`},
		{"same age recipient, spelt differently", "{name: Bob, delivery: age-passphrase}", "{name: Bob, delivery: age-recipient, recipient: '  age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq '}",
			`plan: custodians "Bob" and "Carol" have the same recipient key`},
		{"same SSH recipient, another comment", "{name: Bob, delivery: age-passphrase}", "{name: Bob, delivery: age-recipient, recipient: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM9nLz31sFzPVz6KIDi039ClR92lDQboM1ZsX0MxhZVo bob@laptop'}\n    - {name: Dan, delivery: age-recipient, recipient: 'ssh-ed25519   AAAAC3NzaC1lZDI1NTE5AAAAIM9nLz31sFzPVz6KIDi039ClR92lDQboM1ZsX0MxhZVo'}",
			`plan: custodians "Bob" and "Dan" have the same recipient key`},
		{"handouts in the record", "  threshold: 2", "  threshold: 2\n  handouts: out/shares", "plan: backup.handouts out/shares is inside the ceremony folder out"},
		{"handouts are the record", "  threshold: 2", "  threshold: 2\n  handouts: ./out/", "plan: backup.handouts out is inside the ceremony folder out"},
		{"passphrase maker", "{name: Bob, delivery: age-passphrase}", "{name: Bob, delivery: age-passphrase, passphrase: mine}", `plan: custodian "Bob" has passphrase "mine"`},
		{"passphrase without a file", "{name: Alice, delivery: typed}", "{name: Alice, delivery: typed, passphrase: chosen}", `plan: custodian "Alice": passphrase is only for delivery age-passphrase`},
		{"no backup", "backup:", "nobackup:", `plan: line 10: unknown key "nobackup" in the top level`},
		{"no output", "output: out\n", "", "plan: output is missing"},
		{"no security officer", "  - {role: security-officer, name: Sam}\n", "", "plan: no security officer among the participants; the token's trust step needs one"},
		{"custody target", "output: out", "output: out\ncustody: {target: shred}", `plan: custody.target is "shred"`},
		{"custody backup key", "output: out", "output: out\ncustody: {backup_key: copy}", `plan: custody.backup_key is "copy"`},
		{"custody misspelt", "output: out", "output: out\ncustody: {taget: destroy}", `plan: line 17: unknown key "taget" in custody`},
		{"waive trusted wrap by list", "output: out", "output: out\ncustody: {allow_refused_attributes: [CKA_WRAP_WITH_TRUSTED]}", `plan: custody.allow_refused_attributes names "CKA_WRAP_WITH_TRUSTED"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(goodPlan, tt.from) {
				t.Fatalf("test edits %q, which the plan lacks", tt.from)
			}
			_, err := ParsePlan([]byte(strings.Replace(goodPlan, tt.from, tt.to, 1)), ".")
			if err == nil {
				t.Fatal("plan accepted")
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			if !strings.HasPrefix(first, tt.want) {
				t.Errorf("error %q, want it to start %q", first, tt.want)
			}
		})
	}
}

func TestParsePlanKinds(t *testing.T) {
	base := strings.Replace(goodPlan, "kind: generate", "kind: KIND", 1)
	restore := "restore: {manifest: m.json, blob: b.bin}\n"
	tests := []struct{ kind, extra, drop, want string }{
		{"restore", restore, "backup:", "plan: a restore ceremony has no backup section"},
		{"reshare", "", "", "plan: a reshare ceremony needs a restore section (the old backup) and a backup section (the new roster)"},
		{"rewrap", "", "", "plan: a rewrap ceremony needs at least one target"},
		{"generate", restore, "", "plan: a generate ceremony has no restore section"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			text := strings.Replace(base, "KIND", tt.kind, 1) + tt.extra
			_, err := ParsePlan([]byte(text), ".")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func FuzzParsePlan(f *testing.F) {
	f.Add([]byte(goodPlan))
	f.Add([]byte("version: 1\nkind: restore\n"))
	f.Add([]byte("version: 1\nkind: check-in\nceremony: c\nparticipants: [{role: administrator, name: A}, {role: witness, name: W}]\ncheck_in: {manifest: m.json, ceremonies: [x], custodians: [Alice]}\noutput: o\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan(data, ".")
		if err == nil {
			p.Script()
		}
	})
}

// TestExamplePlans keeps the plans the README points to valid.
func TestExamplePlans(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/plans/*.yaml")
	if len(paths) < 4 {
		t.Fatalf("%d example plans, want one per kind", len(paths))
	}
	kinds := map[string]bool{}
	for _, path := range paths {
		p, err := LoadPlan(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		kinds[p.Kind] = true
	}
	for _, k := range []string{KindGenerate, KindRestore, KindReshare, KindRewrap, KindCheckIn} {
		if !kinds[k] {
			t.Errorf("no example plan of kind %s", k)
		}
	}
}

// TestRestoreNeedsCeremonies: a restore must name the ceremony folders whose transcripts say
// whether its set is current.
func TestRestoreNeedsCeremonies(t *testing.T) {
	const plan = `version: 1
kind: restore
ceremony: r
token: {module: /m.so, token: t}
key: {label: k, type: AES-256}
participants: [{role: administrator, name: Ada}, {role: witness, name: Wendy}]
restore: {manifest: m.json, blob: b.bin}
output: out
`
	_, err := ParsePlan([]byte(plan), ".")
	want := "plan: restore.ceremonies is missing; nothing was changed\nhint: name the folders of this key's ceremonies (the one that made the backup and every re-share since): their transcripts say whether the set is current"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if _, err := ParsePlan([]byte(strings.Replace(plan, "b.bin}", "b.bin, ceremonies: [c1]}", 1)), "."); err != nil {
		t.Fatal(err)
	}
}
