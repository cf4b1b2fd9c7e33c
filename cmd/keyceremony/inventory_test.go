package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

var updateInventory = flag.Bool("update-inventory", false, "rewrite testdata/inventory/*.golden")

// TestInventoryGolden runs a history of several ceremonies on SoftHSM2 (generate with AWS
// material that expires, a check-in with a refused share, a re-share, a check-in of the new set,
// a rotation of the key)
// and compares the inventory, text and JSON, with the golden files. What differs from run to run
// is replaced in order of appearance: set ids, check values, fingerprints, and dates as days
// after the first ceremony (D+N).
func TestInventoryGolden(t *testing.T) {
	dir := t.TempDir()
	newTokens(t, dir, "test")
	if err := writeFixtures(dir, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	validTo := today.AddDate(0, 0, 200).Format(time.RFC3339)
	plan := readFile(t, filepath.Join(dir, "plan.yaml"))
	plan = strings.Replace(plan, "expiration_model: KEY_MATERIAL_DOES_NOT_EXPIRE", "expiration_model: KEY_MATERIAL_EXPIRES\n    valid_to: "+validTo, 1)
	write(t, filepath.Join(dir, "plan.yaml"), plan)
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	must := func(args ...string) {
		t.Helper()
		if out, errOut, code := keyceremony(t, dir, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	glob := func(pattern string) string { return globOne(t, dir, pattern) }
	must(append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...)...)
	checkIn := func(name, manifest, ceremonies, custodians string, interval int) {
		write(t, filepath.Join(dir, name+".yaml"), fmt.Sprintf("version: 1\nkind: check-in\nceremony: %s\nparticipants: [{role: administrator, name: Ada}, {role: witness, name: Wendy}]\n"+
			"check_in: {manifest: %s, ceremonies: [%s], custodians: [%s], interval_days: %d}\noutput: %s\n", name, manifest, ceremonies, custodians, interval, name))
	}
	checkIn("checkin-2026", glob("out/backup-*/backup-manifest.json"), "out", "Alice, Bob", 180)
	must(append([]string{"check-in", "checkin-2026.yaml", "--yes", "--share", glob("out-handouts/backup-*/share-1-alice.age"), "--share", glob("out-handouts/backup-*/share-3-carol.age")}, identityFlags(dir)...)...)
	write(t, filepath.Join(dir, "reshare.yaml"), fmt.Sprintf(`version: 1
kind: reshare
ceremony: reshare-2026
token: {module: /usr/lib/softhsm/libsofthsm2.so, token: test}
key: {label: data-key}
participants: [{role: administrator, name: Ada}, {role: security-officer, name: Sam}, {role: witness, name: Wendy}]
restore: {manifest: %s, blob: %s, ceremonies: [out]}
backup:
  threshold: 2
  custodians:
    - {name: Alice, delivery: age-recipient, recipient: %s}
    - {name: Bob, delivery: age-recipient, recipient: %s}
output: reshared
`, glob("out/backup-*/backup-manifest.json"), glob("out/backup-*/backup-blob.bin"), recipientOf(t, dir, "alice"), recipientOf(t, dir, "bob")))
	must(append([]string{"run", "reshare.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN", "--share", glob("out-handouts/backup-*/share-1-alice.age"), "--share", glob("out-handouts/backup-*/share-2-bob.age")}, identityFlags(dir)...)...)
	checkIn("checkin-2027", glob("reshared/backup-*/backup-manifest.json"), "out, reshared", "Alice", 90)
	must(append([]string{"check-in", "checkin-2027.yaml", "--yes", "--share", glob("reshared-handouts/backup-*/share-1-alice.age")}, identityFlags(dir)...)...)

	// A rotation replaces data-key with data-key-2027, new versions of the same cloud keys; the
	// history it names is every folder so far.
	kcv := regexp.MustCompile(`"step":"generate-key".*?"kcv":"([0-9a-f]{6})"`).FindStringSubmatch(readFile(t, filepath.Join(dir, "out", "transcript.jsonl")))[1]
	rotate := strings.NewReplacer("kind: generate", "kind: rotate", "ceremony: test", "ceremony: rotate-2027", "output: out", "output: rotated",
		"  label: data-key\n", "  label: data-key-2027\n  rotates: {label: data-key, kcv: "+kcv+"}\n").Replace(plan)
	write(t, filepath.Join(dir, "rotate.yaml"), rotate)
	history := []string{"--history", "out", "--history", "reshared", "--history", "checkin-2026", "--history", "checkin-2027"}
	must(append(append([]string{"run", "rotate.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(dir)...), history...)...)

	now := today.AddDate(0, 0, 120).Format(time.RFC3339)
	dirs := []string{"out", "reshared", "checkin-2026", "checkin-2027", "rotated"}
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"text", nil, 0},
		{"json", []string{"--json"}, 0},
		{"fail-on", []string{"--fail-on", "due,at-risk", "--reimport-warn", "90"}, 1},
	} {
		args := append(append([]string{"inventory", "--now", now}, c.args...), dirs...)
		out, errOut, code := keyceremony(t, dir, args...)
		if code != c.code {
			t.Fatalf("%s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, c.code, out, errOut)
		}
		got := normalize(out+errOut, today)
		golden := filepath.Join("testdata", "inventory", c.name+".golden")
		if *updateInventory {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := readFile(t, golden); got != want {
			t.Errorf("inventory %s differs from %s (go test -run TestInventoryGolden -update-inventory rewrites it):\n%s", c.name, golden, got)
		}
	}
}

// normalize replaces what differs between runs, in order of appearance.
func normalize(s string, day0 time.Time) string {
	days := func(t time.Time) string { return fmt.Sprintf("D%+d", int(t.Sub(day0).Hours()/24)) }
	s = regexp.MustCompile(`\d{4}-\d\d-\d\dT[0-9:.]+Z`).ReplaceAllStringFunc(s, func(m string) string {
		t, _ := time.Parse(time.RFC3339Nano, m)
		return days(t.Truncate(24 * time.Hour))
	})
	s = regexp.MustCompile(`\d{4}-\d\d-\d\d`).ReplaceAllStringFunc(s, func(m string) string {
		t, _ := time.Parse(time.DateOnly, m)
		return days(t)
	})
	s = regexp.MustCompile(`\(\d+ days ago\)`).ReplaceAllString(s, "(N days ago)")
	for _, r := range []struct{ re, name string }{
		{`\b[0-9A-Z]{8}\b`, "SET"}, {`SHA256:[0-9a-f]{64}`, "FP"}, {`\b[0-9a-f]{64}\b`, "SUM"}, {`\b[0-9a-f]{16}\b`, "SERIAL"}, {`\b[0-9a-f]{6}\b`, "KCV"},
		{`arn:aws:kms:[^"\s]+|\b[0-9a-f]{8}-[0-9a-f-]{27}\b`, "KMSKEY"},
	} {
		seen := map[string]string{}
		s = regexp.MustCompile(r.re).ReplaceAllStringFunc(s, func(m string) string {
			if seen[m] == "" {
				seen[m] = fmt.Sprintf("%s%d", r.name, len(seen)+1)
			}
			return seen[m]
		})
	}
	return s
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// recipientOf is the age recipient of $dir/NAME.key.
func recipientOf(t *testing.T, dir, name string) string {
	t.Helper()
	ids, err := age.ParseIdentities(strings.NewReader(readFile(t, filepath.Join(dir, name+".key"))))
	if err != nil {
		t.Fatal(err)
	}
	return ids[0].(*age.X25519Identity).Recipient().String()
}
