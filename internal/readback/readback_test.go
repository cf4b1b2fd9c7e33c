package readback

import (
	"strings"
	"testing"
)

const fp = "SHA256:3f9a0b7e41d2c6f88e5a1b3c9d0e7f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9cc2d1"

func TestFormatIs128Bits(t *testing.T) {
	got := Format(fp)
	groups := strings.Fields(got)
	if len(groups) != 8 {
		t.Fatalf("Format = %q: %d groups", got, len(groups))
	}
	var digits string
	for _, g := range groups {
		if len(g) != 6 || g[4] != '-' || !strings.ContainsRune(checkLetters, rune(g[5])) {
			t.Fatalf("group %q is not 4 hex digits, a dash and a check letter", g)
		}
		digits += g[:4]
	}
	if digits != "3f9a0b7e41d2c6f88e5a1b3c9d0e7f2a" {
		t.Fatalf("Format compares %s, want the first 32 hex digits", digits)
	}
	if Format("SHA256:3f9a0b7e") != "" || Format("not hex at all, not hex at all, not hex") != "" {
		t.Fatal("Format accepts less than 128 bits")
	}
}

func TestCheck(t *testing.T) {
	good := Format(fp)
	groups := strings.Fields(good)
	if err := Check(fp, strings.ToUpper(strings.ReplaceAll(good, "-", " "))); err != nil {
		t.Fatalf("Check(%q) with case and spaces changed: %v", good, err)
	}
	if err := Check(fp, strings.Join(groups, "")); err != nil {
		t.Fatalf("Check without spaces: %v", err)
	}
	// The first 8 hex digits, which the old check compared, are refused.
	if err := Check(fp, "3f9a0b7e"); err == nil || err.Error() != "8 groups of 4 hex digits and a check letter are needed (40 characters), 8 were typed; type all of it again" {
		t.Fatalf("Check(8 digits) = %v", err)
	}
	// A slip within group 3 is caught by its check letter, at the group.
	slip := append([]string(nil), groups...)
	slip[2] = "41d3" + slip[2][4:]
	if err := Check(fp, strings.Join(slip, " ")); err == nil || err.Error() != "group 3 does not fit its check letter: a slip in reading or typing; read it again" {
		t.Fatalf("slip: %v", err)
	}
	// Another key with its own valid check letters is named at the first differing group.
	other := "SHA256:3f9a0b7e41d2c6f8" + strings.Repeat("0", 48)
	if err := Check(fp, Format(other)); err == nil || err.Error() != "group 5 does not match; read it again" {
		t.Fatalf("other key: %v", err)
	}
	// Two groups read in the wrong order.
	swapped := append([]string(nil), groups...)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	if err := Check(fp, strings.Join(swapped, " ")); err == nil || !strings.HasPrefix(err.Error(), "group 1 ") {
		t.Fatalf("swapped groups: %v", err)
	}
	if err := Check(fp, strings.Repeat("zzzzz", 8)); err == nil || err.Error() != "group 1 is not 4 hex digits and a check letter; read it again" {
		t.Fatalf("garbage: %v", err)
	}
}

// Every single-digit substitution and every swap of neighbouring different digits within a
// group is caught by its check letter (Luhn mod 16 misses only the swap of 0 and f).
func TestCheckLetterCatchesSlips(t *testing.T) {
	const hexd = "0123456789abcdef"
	for i := range Groups {
		for _, g := range []string{"3f9a", "0000", "ffff", "1234", "a0f5"} {
			want := checkLetter(i, g)
			for p := range 4 {
				for _, c := range hexd {
					if byte(c) == g[p] {
						continue
					}
					bad := g[:p] + string(c) + g[p+1:]
					if checkLetter(i, bad) == want {
						t.Errorf("group %d %s: %s has the same check letter", i+1, g, bad)
					}
				}
				if p < 3 && g[p] != g[p+1] && !(g[p] == '0' && g[p+1] == 'f' || g[p] == 'f' && g[p+1] == '0') {
					sw := g[:p] + string(g[p+1]) + string(g[p]) + g[p+2:]
					if checkLetter(i, sw) == want {
						t.Errorf("group %d %s: swap %s has the same check letter", i+1, g, sw)
					}
				}
			}
		}
	}
}

func TestDigits(t *testing.T) {
	want := "3f9a0b7e41d2c6f88e5a1b3c9d0e7f2a"
	for _, in := range []string{Format(fp), strings.ToUpper(Format(fp)), fp, "sha256:" + want, want[:16] + " " + want[16:]} {
		got, err := Digits(in)
		if err != nil || !strings.HasPrefix(strings.TrimPrefix(fp, "SHA256:"), got) || len(got) < 32 {
			t.Errorf("Digits(%q) = %q, %v", in, got, err)
		}
	}
	slip := strings.Replace(Format(fp), "3f9a", "3f9b", 1)
	for in, msg := range map[string]string{
		slip:          `group 1 of "` + slip + `" does not fit its check letter; check it against the paper`,
		"SHA256:3f9a": `"SHA256:3f9a" has 4 hex digits; give 32 to 64 (at least 128 bits)`,
		want[:31]:     `"` + want[:31] + `" has 31 hex digits; give 32 to 64 (at least 128 bits)`,
		"zz":          `"zz" is neither hex digits nor the read-back form of a fingerprint`,
	} {
		if _, err := Digits(in); err == nil || err.Error() != msg {
			t.Errorf("Digits(%q) = %v, want %s", in, err, msg)
		}
	}
}
