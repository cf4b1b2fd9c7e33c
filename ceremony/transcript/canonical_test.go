package transcript

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var sigSuffixRE = regexp.MustCompile(`,"sig":"[A-Za-z0-9+/=]*"\}$`)

// resign returns line with its message changed by edit and signed again by priv, so that only
// the byte form, not the signature, can make a verifier refuse it.
func resign(t *testing.T, priv ed25519.PrivateKey, line []byte, edit func([]byte) []byte) []byte {
	t.Helper()
	m := sigSuffixRE.FindIndex(line)
	if m == nil {
		t.Fatalf("no sig in %s", line)
	}
	msg := edit(append(bytes.Clone(line[:m[0]]), '}'))
	sig := ed25519.Sign(priv, msg)
	return append(append(msg[:len(msg)-1:len(msg)-1], `,"sig":"`...), base64.StdEncoding.EncodeToString(sig)+`"}`...)
}

// twoEvents writes an unsealed transcript of a begin event and one step, and returns the folder,
// the signing key and the two lines.
func twoEvents(t *testing.T) (string, ed25519.PrivateKey, [][]byte) {
	t.Helper()
	priv := newSigner(t, AlgorithmEd25519).(ed25519.PrivateKey)
	dir := t.TempDir()
	w, err := Create(dir, priv, Begin{Actor: Actor{Role: "administrator", Name: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(Entry{Step: "a/b", Actor: Actor{Role: "witness", Name: "W\b"},
		Facts: json.RawMessage(`{"n":1, "s":"a<b"}`)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	data, _ := os.ReadFile(filepath.Join(dir, TranscriptFile))
	lines, _ := splitLines(data)
	return dir, priv, lines
}

// TestCanonicalForm signs lines that differ from the specified byte form in one way each and
// checks that both verifiers refuse them, and that lines in the form (in every way the form
// allows) are accepted by both.
func TestCanonicalForm(t *testing.T) {
	dir, priv, lines := twoEvents(t)
	if !bytes.Contains(lines[1], []byte(`"step":"a/b"`)) || !bytes.Contains(lines[1], []byte(`"name":"W\b"`)) ||
		!bytes.Contains(lines[1], []byte(`"facts":{"n":1,"s":"a\u003cb"}`)) {
		t.Fatalf("the writer did not write the canonical form: %s", lines[1])
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte {
			if !bytes.Contains(b, []byte(old)) {
				t.Fatalf("%q is not in %s", old, b)
			}
			return bytes.Replace(b, []byte(old), []byte(new), 1)
		}
	}
	setTime := func(ts string) func([]byte) []byte {
		return func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"time":"`)) + len(`"time":"`)
			j := i + bytes.IndexByte(b[i:], '"')
			return append(append(bytes.Clone(b[:i]), ts...), b[j:]...)
		}
	}
	nest := func(open, inner, close string, k int) func([]byte) []byte {
		return replace(`{"n":1,`, `{"d":`+strings.Repeat(open, k)+inner+strings.Repeat(close, k)+`,"n":1,`)
	}
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
		ok   bool
	}{
		{"an escape that is not needed", replace(`"step":"a/b"`, `"step":"a\/b"`), false},
		{"a letter escaped", replace(`"step":"a/b"`, `"step":"\u0061/b"`), false},
		{"raw < in facts", replace(`a\u003cb`, `a<b`), false},
		{"uppercase hex escape", replace(`\u003c`, `\u003C`), false},
		{"\\u0008 for backspace (Go before 1.22)", replace(`"name":"W\b"`, `"name":"W\u0008"`), false},
		{"a raw control character", replace(`"name":"W\b"`, "\"name\":\"W\x01\""), false},
		{"invalid UTF-8", replace(`"name":"W\b"`, "\"name\":\"W\xff\""), false},
		{"a surrogate in UTF-8", replace(`"name":"W\b"`, "\"name\":\"W\xed\xa0\x80\""), false},
		{"a raw U+2028", replace(`"name":"W\b"`, "\"name\":\"W\u2028\""), false},
		{"an escaped surrogate pair", replace(`"s":"a\u003cb"`, `"s":"\ud83d\ude00"`), false},
		{"a space in facts", replace(`{"n":1,`, `{"n":1 ,`), false},
		{"a space in the envelope", replace(`,"step"`, `, "step"`), false},
		{"two members of the same name", replace(`{"n":1,`, `{"n":1,"n":2,`), false},
		{"a leading zero", replace(`{"n":1,`, `{"n":01,`), false},
		{"seq with a leading zero", replace(`"seq":1`, `"seq":01`), false},
		{"facts not an object", replace(`{"n":1,"s":"a\u003cb"}`, `[1]`), false},
		{"a time with a trailing zero", setTime("2026-11-29T13:49:41.10Z"), false},
		{"a time with an offset", setTime("2026-11-29T13:49:41+00:00"), false},
		{"a time on February 30", setTime("2026-02-30T13:49:41Z"), false},
		{"a time at 24:00", setTime("2026-11-29T24:00:00Z"), false},
		{"a time with a lowercase z", setTime("2026-11-29T13:49:41z"), false},
		{"a value 65 deep", nest("[", "1", "]", 64), false},
		{"members in another order", replace(`{"n":1,"s":"a\u003cb"}`, `{"s":"a\u003cb","n":1}`), true},
		{"a raw emoji and U+FFFD", replace(`"s":"a\u003cb"`, "\"s\":\"\U0001F600\ufffd\x7f\""), true},
		{"numbers as RFC 8259 writes them", replace(`{"n":1,`, `{"n":-0.5e+3,"m":[0,1E-7,true,false,null],`), true},
		{"a time without a fraction", setTime("2026-11-29T13:49:41Z"), true},
		{"a time on February 29 of a leap year", setTime("2028-02-29T13:49:41.1Z"), true},
		{"an empty array 64 deep", nest("[", "", "]", 64), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			folder := t.TempDir()
			if err := os.CopyFS(folder, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			edited := resign(t, priv, lines[1], c.edit)
			os.WriteFile(filepath.Join(folder, TranscriptFile), append(append(append(bytes.Clone(lines[0]), '\n'), edited...), '\n'), 0o644)
			r := Verify(folder)
			want := "event 1: not in the exact form of an event line"
			if c.ok {
				want = NoSeal
			}
			if !strings.HasPrefix(r.Problem, want) {
				t.Errorf("%s\nVerify: %q, want %q", edited, r.Problem, want)
			}
			checkAgree(t, c.name, r, runShell(t, folder))
		})
	}
}

// TestBeginFactsExact: the begin event's facts have exactly the specified members, in order,
// named exactly (encoding/json would match "Algorithm" to "algorithm").
func TestBeginFactsExact(t *testing.T) {
	dir, priv, lines := twoEvents(t)
	for name, edit := range map[string][2]string{
		"members reordered":   {`{"algorithm":"ed25519","public_key":`, `{"public_key":`},
		"a member renamed":    {`"fingerprint":`, `"Fingerprint":`},
		"a member added":      {`"plan_sha256":""`, `"plan_sha256":"","x":1`},
		"public key re-coded": {`=","fingerprint"`, `","fingerprint"`},
	} {
		t.Run(name, func(t *testing.T) {
			folder := t.TempDir()
			if err := os.CopyFS(folder, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			begin := resign(t, priv, lines[0], func(b []byte) []byte {
				if name == "members reordered" {
					i := bytes.Index(b, []byte(`"public_key":`))
					j := bytes.Index(b, []byte(`,"fingerprint":`))
					pk := bytes.Clone(b[i:j])
					b = bytes.Replace(b, append([]byte(`{"algorithm":"ed25519",`), pk...), append(append([]byte("{"), pk...), `,"algorithm":"ed25519"`...), 1)
					return b
				}
				if !bytes.Contains(b, []byte(edit[0])) {
					t.Fatalf("%q not in %s", edit[0], b)
				}
				return bytes.Replace(b, []byte(edit[0]), []byte(edit[1]), 1)
			})
			os.WriteFile(filepath.Join(folder, TranscriptFile), append(begin, '\n'), 0o644)
			r := Verify(folder)
			const want = "event 0: the signing key differs from transcript.pub"
			if r.Problem != want {
				t.Errorf("%s\nVerify: %q, want %q", begin, r.Problem, want)
			}
			checkAgree(t, name, r, runShell(t, folder))
		})
	}
}

// TestFrozenV1RoundTrip: every line of the frozen transcript is what the encoder writes for the
// event the parser reads from it, byte for byte.
func TestFrozenV1RoundTrip(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(frozenV1, TranscriptFile))
	if err != nil {
		t.Fatal(err)
	}
	lines, _ := splitLines(data)
	for i, line := range lines {
		e, _, err := parseLine(line)
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		again, err := e.encode(true)
		if err != nil || !bytes.Equal(again, line) {
			t.Errorf("line %d: encoded again as\n%s\n(%v), want\n%s", i, again, err, line)
		}
	}
}

// TestWriterCanonicalizesFacts: facts that encoding/json writes in another form (invalid UTF-8
// becomes "\ufffd") are written in the canonical form, and an envelope string that is not
// UTF-8 is refused before anything is written.
func TestWriterCanonicalizesFacts(t *testing.T) {
	priv := newSigner(t, AlgorithmEd25519)
	dir := t.TempDir()
	w, err := Create(dir, priv, Begin{Actor: Actor{Role: "administrator", Name: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e, err := w.Append(Entry{Step: "token", Facts: map[string]string{"label": "caf\xe9"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"label\":\"caf\ufffd\"}"; string(e.Facts) != want {
		t.Errorf("facts %s, want %s", e.Facts, want)
	}
	if _, err := w.Append(Entry{Step: "token", Actor: Actor{Name: "caf\xe9"}}); err == nil || !strings.Contains(err.Error(), "is not valid UTF-8") {
		t.Errorf("an actor name that is not UTF-8: %v", err)
	}
	if _, err := w.Append(Entry{Step: "after", Facts: map[string]time.Time{"at": time.Unix(0, 0).UTC()}}); err != nil {
		t.Fatalf("the writer is unusable after a refused event: %v", err)
	}
	if r := Verify(dir); r.Problem != NoSeal {
		t.Errorf("Verify: %q, want %q", r.Problem, NoSeal)
	}
}

// byteFormScript returns the definitions of scripts/verify-transcript up to the end of its byte
// form section (functions and variables only), to run its checks on their own.
func byteFormScript(t *testing.T) string {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(script, []byte("\nb64chars="))
	end := bytes.Index(script, []byte("# (end of the byte form)"))
	if start < 0 || end < start {
		t.Fatal("scripts/verify-transcript has no byte form section")
	}
	return "set -uo pipefail; export LC_ALL=C\n" + string(script[start:end])
}

// scriptVerdicts runs check, a bash condition on "$x", over the inputs in one bash process, and
// returns whether each one passed.
func scriptVerdicts(t *testing.T, check string, inputs [][]byte) []bool {
	harness := byteFormScript(t) + `
while IFS= read -r -d '' x; do
	if ` + check + `; then echo ok; else echo bad; fi
done
`
	var in bytes.Buffer
	for _, c := range inputs {
		in.Write(append(c, 0))
	}
	cmd := exec.Command("bash", "-c", harness)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	words := strings.Fields(string(out))
	if len(words) != len(inputs) {
		t.Fatalf("%d verdicts for %d inputs:\n%s", len(words), len(inputs), out)
	}
	ok := make([]bool, len(words))
	for i, w := range words {
		ok[i] = w == "ok"
	}
	return ok
}

// mutations returns each seed and n changed copies of it: pieces inserted, bytes removed,
// members repeated.
func mutations(seeds [][]byte, n int) [][]byte {
	pieces := []string{`"`, `\`, `\u0041`, `\u003C`, `\/`, `,`, `:`, `{`, `}`, `[`, `]`, ` `, `01`, `1.`, `"a":1,`, `"a"`,
		"\xff", "\xe2\x80\xa8", "\xed\xa0\x80", "\x01", "\x7f", `\ud83d\ude00`, `tru`, `-`, `1e`, "é", `0`, `Z`, `.10`, `=`, `A`}
	rng := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	for _, s := range seeds {
		out = append(out, s)
		for range n {
			c := bytes.Clone(s)
			for range 1 + rng.IntN(2) {
				i := rng.IntN(len(c) + 1)
				switch rng.IntN(3) {
				case 0:
					c = append(c[:i:i], append([]byte(pieces[rng.IntN(len(pieces))]), c[i:]...)...)
				case 1:
					if i < len(c) {
						c = append(c[:i:i], c[i+1:]...)
					}
				case 2:
					if j := bytes.IndexByte(c, ','); j > 0 && len(c) > 0 {
						c = append(c[:len(c)-1:len(c)-1], append(append([]byte{','}, c[1:j]...), c[len(c)-1])...)
					}
				}
			}
			if len(c) > 0 && !bytes.ContainsAny(c, "\x00\n") {
				out = append(out, c)
			}
		}
	}
	return out
}

// frozenLines returns the lines of the frozen v1 transcript and their facts.
func frozenLines(t *testing.T) (lines, facts [][]byte) {
	data, err := os.ReadFile(filepath.Join(frozenV1, TranscriptFile))
	if err != nil {
		t.Fatal(err)
	}
	lines, _ = splitLines(data)
	for _, l := range lines {
		e, _, err := parseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		facts = append(facts, e.Facts)
	}
	return lines, facts
}

// TestFactsAgree: the facts check of scripts/verify-transcript (taken from the script as it
// is) and canonicalJSON accept and refuse the same objects, over many changed copies of the
// frozen transcript's facts.
func TestFactsAgree(t *testing.T) {
	_, facts := frozenLines(t)
	facts = append(facts, []byte(`{"a":[[],{}],"b":"\u003c\b\u0001é😀","c":-0.5e+3,"d":[true,false,null]}`))
	cases := mutations(facts, 60)
	script := scriptVerdicts(t, `canonical_text "$x" && canonical_facts "$x"`, cases)
	accepted := 0
	for i, c := range cases {
		canon, err := canonicalJSON(c)
		goOK := err == nil && bytes.Equal(canon, c) && c[0] == '{'
		if goOK {
			accepted++
		}
		if goOK != script[i] {
			t.Errorf("%q: Go accepts %v, the script %v", c, goOK, script[i])
		}
	}
	t.Logf("%d facts objects: %d accepted by both, %d refused by both", len(cases), accepted, len(cases)-accepted)
}

// TestLinesAgree: the line form checks of scripts/verify-transcript and parseLine accept and
// refuse the same lines, over many changed copies of the frozen transcript's lines (the
// signatures are not checked here).
func TestLinesAgree(t *testing.T) {
	lines, _ := frozenLines(t)
	cases := mutations(lines, 50)
	script := scriptVerdicts(t, `[[ $x == '{"seq":'* && $x =~ $sigre ]] && sig=${BASH_REMATCH[1]} && canonical_line "$x" && canonical_b64 "$sig"`, cases)
	accepted := 0
	for i, c := range cases {
		_, _, err := parseLine(c)
		if err == nil {
			accepted++
		}
		if (err == nil) != script[i] {
			t.Errorf("%q: Go says %v, the script accepts %v", c, err, script[i])
		}
	}
	t.Logf("%d lines: %d accepted by both, %d refused by both", len(cases), accepted, len(cases)-accepted)
}
