package ceremony

import (
	"strings"
	"testing"
)

// TestLifecyclePlanRefusals: check-in and re-import plans are refused, by their exact words,
// before any file or token is looked at.
func TestLifecyclePlanRefusals(t *testing.T) {
	const checkIn = `version: 1
kind: check-in
ceremony: c
participants: [{role: administrator, name: Ada}, {role: witness, name: Wendy}]
check_in: {manifest: m.json, ceremonies: [c1], custodians: [Alice, Bob]}
output: out
`
	const reimport = `version: 1
kind: rewrap
ceremony: r
token: {module: /m.so, token: t}
key: {label: k, type: AES-256}
participants: [{role: administrator, name: Ada}, {role: security-officer, name: Sam}, {role: witness, name: Wendy}]
restore: {manifest: m.json, blob: b.bin, ceremonies: [c1]}
targets: [{name: vault, profile: vault, params: v.json, key_name: k}]
output: out
`
	for _, tt := range []struct{ name, plan, old, new, want string }{
		{"check-in names a token", checkIn, "output: out", "output: out\ntoken: {module: /m.so, token: t}", "plan: a check-in has only check_in, participants and output; nothing was changed\nhint: it touches no HSM and no key; remove token, key, backup, restore and targets"},
		{"check-in without section", checkIn, "check_in: {manifest: m.json, ceremonies: [c1], custodians: [Alice, Bob]}\n", "", "plan: a check-in needs a check_in section naming the set's manifest, its ceremonies and the custodians expected; nothing was changed"},
		{"check-in without ceremonies", checkIn, "ceremonies: [c1], ", "", "plan: check_in.ceremonies is missing; nothing was changed\nhint: name the folders of this key's ceremonies (the one that made the set and every re-share since): their transcripts say whether the set is current"},
		{"check-in without custodians", checkIn, ", custodians: [Alice, Bob]", "", "plan: check_in.custodians is missing; nothing was changed\nhint: name the custodians expected to check in"},
		{"check-in names one twice", checkIn, "[Alice, Bob]", "[Alice, Alice]", `plan: custodian "Alice" is named twice in check_in.custodians; nothing was changed`},
		{"check-in negative interval", checkIn, "[Alice, Bob]}", "[Alice, Bob], interval_days: -1}", "plan: check_in.interval_days is -1; nothing was changed\nhint: how often each holder should check in, in days (365 when left out)"},
		{"check-in without a witness", checkIn, ", {role: witness, name: Wendy}", "", "plan: no witness among the participants; nothing was changed\nhint: a ceremony needs at least one witness to check what the screen shows"},
		{"check_in in another kind", reimport, "output: out", "output: out\ncheck_in: {manifest: m.json}", "plan: check_in is for kind: check-in plans; nothing was changed\nhint: remove it, or set kind: check-in"},
		{"re-import that makes shares", reimport, "output: out", "output: out\nbackup: {threshold: 2, custodians: [{name: A, delivery: typed}, {name: B, delivery: typed}]}", "plan: a rewrap ceremony has no backup section; nothing was changed\nhint: it wraps a key kept in the token, or one a quorum restores (restore section); to issue new shares use kind: reshare"},
		{"re-import without ceremonies", reimport, ", ceremonies: [c1]", "", "plan: restore.ceremonies is missing; nothing was changed\nhint: name the folders of this key's ceremonies (the one that made the backup and every re-share since): their transcripts say whether the set is current"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(tt.plan, tt.old, tt.new, 1)
			if text == tt.plan {
				t.Fatalf("%q is not in the plan", tt.old)
			}
			if _, err := ParsePlan([]byte(text), "."); err == nil || err.Error() != tt.want {
				t.Errorf("error %v\nwant %q", err, tt.want)
			}
		})
	}
	// Unchanged, both are good plans, and the re-import restores instead of finding a kept key.
	if _, err := ParsePlan([]byte(checkIn), "."); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePlan([]byte(reimport), ".")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range p.Script() {
		ids = append(ids, s.ID)
	}
	if got := strings.Join(ids, " "); !strings.Contains(got, "check-wrapping-key:vault collect-shares restore-key wrap:vault") || strings.Contains(got, "find-key") {
		t.Errorf("re-import script: %s", got)
	}
}
