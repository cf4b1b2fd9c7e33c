//go:build cgo

package ceremony

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/ceremony/witness"
)

// witnessKey writes an unencrypted witness key file named name into dir and returns its path
// and verifier key.
func witnessKey(t *testing.T, dir, name string) (path, vkey string) {
	t.Helper()
	skey, vkey, err := witness.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, name+".key")
	if err := witness.WriteKeyFile(path, skey, nil, 0); err != nil {
		t.Fatal(err)
	}
	return path, vkey
}

// cosignPlan adds a cosign section naming Wendy with vkey to the fixture's plan.
func (f *fixture) cosignPlan(t *testing.T, vkey string) {
	t.Helper()
	plan, err := os.ReadFile(f.planPath)
	if err != nil {
		t.Fatal(err)
	}
	plan = fmt.Appendf(plan, "cosign:\n  - {witness: Wendy, key: %q}\n", vkey)
	if err := os.WriteFile(f.planPath, plan, 0o600); err != nil {
		t.Fatal(err)
	}
}

// At the close, the witness the plan names cosigns the sealed checkpoint with the key the plan
// names; a key file holding another witness key is refused with the reason and asked again.
func TestCosignAtClose(t *testing.T) {
	f := newFixture(t)
	keyPath, vkey := witnessKey(t, f.dir, "wendy")
	otherPath, _ := witnessKey(t, f.dir, "mallory")
	f.cosignPlan(t, vkey)
	p := atTerminal(f)
	p.onStep = func(id string) {
		if id == stepCosign+":Wendy" {
			p.answers = []string{otherPath, "'" + keyPath + "'"}
		}
	}
	if err := f.run(t, p, false); err != nil {
		t.Fatal(err)
	}
	asked := p.asked[len(p.asked)-2:]
	if asked[0].Actor != (Actor{Role: RoleWitness, Name: "Wendy"}) || !strings.Contains(asked[0].Detail, "Sealed checkpoint of keyceremony/trust: ") {
		t.Errorf("cosign prompt: %+v", asked[0])
	}
	if !strings.HasPrefix(asked[1].LastError, otherPath+" holds the witness key ") || !strings.Contains(asked[1].LastError, ", not the one the plan names for Wendy (") {
		t.Errorf("the other key was refused with %q", asked[1].LastError)
	}
	r := transcript.Verify(f.out())
	if !r.OK {
		t.Fatal(r.Problem)
	}
	var l witness.List
	if err := l.Add(vkey); err != nil {
		t.Fatal(err)
	}
	if o := witness.Check(f.out(), r, &l, 1); !o.OK || !slices.Equal(o.Valid, []string{"wendy"}) {
		t.Errorf("cosignatures: %q", o.Lines)
	}
	if !slices.Contains(p.notices, "Wendy cosigned the checkpoint") {
		t.Errorf("notices: %q", p.notices)
	}
}

// A witness who types later, or a headless run, leaves the checkpoint uncosigned and says how
// to cosign it afterwards; the ceremony still ends well.
func TestCosignLater(t *testing.T) {
	for _, mode := range []string{ModeLine, ModeHeadless} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t)
			_, vkey := witnessKey(t, f.dir, "wendy")
			f.cosignPlan(t, vkey)
			p := atTerminal(f)
			p.mode = mode
			p.onStep = func(id string) {
				if id == stepCosign+":Wendy" {
					p.answers = []string{"later"}
				}
			}
			if err := f.run(t, p, false); err != nil {
				t.Fatal(err)
			}
			r := transcript.Verify(f.out())
			if !r.OK || len(r.Cosignatures) != 0 {
				t.Fatalf("verify: %v, %d cosignatures", r.Problem, len(r.Cosignatures))
			}
			want := "Wendy can cosign later with: keyceremony cosign " + f.out() + " --key FILE"
			if !slices.ContainsFunc(p.notices, func(n string) bool { return strings.HasSuffix(n, want) }) {
				t.Errorf("notices %q\nlack %q", p.notices, want)
			}
		})
	}
}

func TestCosignPlanRefusals(t *testing.T) {
	f := newFixture(t)
	_, vkey := witnessKey(t, f.dir, "wendy")
	plan, err := os.ReadFile(f.planPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ section, want string }{
		{fmt.Sprintf("cosign:\n  - {witness: Ada, key: %q}\n", vkey), `plan: cosign names "Ada", who is not a witness of this ceremony; nothing was changed`},
		{fmt.Sprintf("cosign:\n  - {witness: Wendy, key: %q}\n  - {witness: Wendy, key: %q}\n", vkey, vkey), `plan: cosign names "Wendy" twice; nothing was changed`},
		{"cosign:\n  - {witness: Wendy, key: wendy+00000000+AAAA}\n", "plan: cosign: the key of Wendy is not the verifier key of an Ed25519 witness key; nothing was changed"},
	} {
		if err := os.WriteFile(f.planPath, append(slices.Clone(plan), tc.section...), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPlan(f.planPath)
		if err == nil || firstLine(err.Error()) != tc.want {
			t.Errorf("%s: %v\nwant %s", tc.section, err, tc.want)
		}
	}
}
