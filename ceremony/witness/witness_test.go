package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// sealed writes a small sealed ceremony folder signed by a fresh software key and returns it.
func sealed(t testing.TB, origin string) string {
	t.Helper()
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), []byte("kind: generate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := transcript.Create(dir, priv, transcript.Begin{
		Actor:      transcript.Actor{Role: "ceremony administrator", Name: "Alice"},
		PlanSHA256: strings.Repeat("ab", 32),
		Files:      []string{"plan.yaml"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Append(transcript.Entry{Step: "generate-key", Actor: transcript.Actor{Role: "security officer", Name: "Sam"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(origin, transcript.Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// newKey makes a witness key named name.
func newKey(t testing.TB, name string) *Key {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	if k.Verifier().String() != vkey {
		t.Fatalf("the verifier key of the parsed key is %s, GenerateKey said %s", k.Verifier(), vkey)
	}
	return k
}

// cosign verifies dir and cosigns it with k at t.
func cosign(t testing.TB, dir string, k *Key, at time.Time) error {
	t.Helper()
	r, err := Verified(dir)
	if err != nil {
		t.Fatal(err)
	}
	return Cosign(dir, r.Checkpoint, k, at)
}

// check verifies dir (it must verify) and checks its cosignatures against l.
func check(t testing.TB, dir string, l *List, quorum int) Outcome {
	t.Helper()
	r := transcript.Verify(dir)
	if !r.OK {
		t.Fatalf("the cosigned folder does not verify: %s", r.Problem)
	}
	return Check(dir, r, l, quorum)
}

func listOf(t testing.TB, keys ...*Key) *List {
	t.Helper()
	var l List
	for _, k := range keys {
		if err := l.Add(k.Verifier().String()); err != nil {
			t.Fatal(err)
		}
	}
	return &l
}

var when = time.Date(2026, 11, 27, 10, 4, 5, 0, time.UTC)

func TestRoundTrips(t *testing.T) {
	for n := 1; n <= 3; n++ {
		dir := sealed(t, "keyceremony/round-trip")
		keys := make([]*Key, 3)
		for i := range keys {
			keys[i] = newKey(t, fmt.Sprintf("witness.example/w%d", i+1))
		}
		for i := range n {
			if err := cosign(t, dir, keys[i], when.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		l := listOf(t, keys...) // all three listed, n cosigned
		for quorum := 1; quorum <= 3; quorum++ {
			o := check(t, dir, l, quorum)
			if o.OK != (quorum <= n) || len(o.Valid) != n {
				t.Errorf("%d cosigned, quorum %d: OK %v, valid %v\n%s", n, quorum, o.OK, o.Valid, strings.Join(o.Lines, "\n"))
			}
			want := fmt.Sprintf("cosigned by witness.example/w1 at 2026-11-27T10:04:05Z (Ed25519 cosignature, key ID %08x)", keys[0].Verifier().KeyID)
			if o.Lines[0] != want {
				t.Errorf("first line %q, want %q", o.Lines[0], want)
			}
			if !o.OK {
				if want := fmt.Sprintf("witness quorum not met: %d of the 3 listed witnesses cosigned this checkpoint, %d required", n, quorum); o.Reason != want {
					t.Errorf("reason %q, want %q", o.Reason, want)
				}
			}
		}
	}
}

func TestCosignKeepsTheSealAndIsIdempotent(t *testing.T) {
	dir := sealed(t, "keyceremony/idempotent")
	path := filepath.Join(dir, transcript.CheckpointFile)
	before, _ := os.ReadFile(path)
	k := newKey(t, "witness.example/alice")
	if err := cosign(t, dir, k, when); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, before) || bytes.Count(after[len(before):], []byte("\n")) != 1 {
		t.Fatalf("cosign changed more than one appended line:\n%s\n---\n%s", before, after)
	}
	if err := cosign(t, dir, k, when.Add(time.Hour)); !errors.Is(err, ErrAlreadyCosigned) {
		t.Fatalf("a second cosign by the same witness: %v, want ErrAlreadyCosigned", err)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, after) {
		t.Fatal("a second cosign by the same witness changed the checkpoint")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("checkpoint mode %v after cosign", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// appendLine adds a signature line to dir's checkpoint, as a forger would.
func appendLine(t *testing.T, dir, line string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, transcript.CheckpointFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

func TestRefusedCosignatures(t *testing.T) {
	alice, bob := newKey(t, "witness.example/alice"), newKey(t, "witness.example/bob")
	mallory := newKey(t, "witness.example/mallory")
	t.Run("over another checkpoint", func(t *testing.T) {
		dir, other := sealed(t, "keyceremony/same-origin"), sealed(t, "keyceremony/same-origin")
		r := transcript.Verify(other)
		appendLine(t, dir, alice.sign(r.Checkpoint, when))
		o := check(t, dir, listOf(t, alice, bob), 1)
		if o.OK || len(o.Valid) != 0 || o.Lines[0] != "invalid cosignature by witness.example/alice: it does not verify over this checkpoint, not counted" {
			t.Errorf("a cosignature over another checkpoint: %v %q", o.OK, o.Lines)
		}
	})
	t.Run("a changed timestamp", func(t *testing.T) {
		dir := sealed(t, "keyceremony/time")
		r := transcript.Verify(dir)
		appendLine(t, dir, redate(t, alice.sign(r.Checkpoint, when), when.Add(time.Hour)))
		o := check(t, dir, listOf(t, alice), 1)
		if o.OK || o.Lines[0] != "invalid cosignature by witness.example/alice: it does not verify over this checkpoint, not counted" {
			t.Errorf("a re-dated cosignature: %v %q", o.OK, o.Lines)
		}
	})
	t.Run("unlisted key", func(t *testing.T) {
		dir := sealed(t, "keyceremony/unlisted")
		if err := cosign(t, dir, mallory, when); err != nil {
			t.Fatal(err)
		}
		if err := cosign(t, dir, alice, when); err != nil {
			t.Fatal(err)
		}
		o := check(t, dir, listOf(t, alice, bob), 2)
		want := fmt.Sprintf("unknown cosignature by witness.example/mallory (key ID %08x): not a listed witness key, not counted", mallory.Verifier().KeyID)
		if o.OK || !slices.Contains(o.Lines, want) || !slices.Equal(o.Valid, []string{"witness.example/alice"}) {
			t.Errorf("an unlisted witness: %v %q", o.OK, o.Lines)
		}
	})
	t.Run("listed name, other key", func(t *testing.T) {
		dir := sealed(t, "keyceremony/impostor")
		impostor := newKey(t, "witness.example/alice") // same name, another key
		if err := cosign(t, dir, impostor, when); err != nil {
			t.Fatal(err)
		}
		o := check(t, dir, listOf(t, alice), 1)
		if o.OK || !strings.HasPrefix(o.Lines[0], "unknown cosignature by witness.example/alice (key ID ") {
			t.Errorf("an impostor with a listed name: %v %q", o.OK, o.Lines)
		}
		// and the real witness is not blocked from cosigning beside it silently: cosign refuses
		if err := cosign(t, dir, alice, when); err == nil || !strings.Contains(err.Error(), "a cosignature named witness.example/alice by another key") {
			t.Errorf("cosign beside an impostor of the same name: %v", err)
		}
	})
	t.Run("duplicated", func(t *testing.T) {
		dir := sealed(t, "keyceremony/duplicate")
		if err := cosign(t, dir, alice, when); err != nil {
			t.Fatal(err)
		}
		r := transcript.Verify(dir)
		appendLine(t, dir, alice.sign(r.Checkpoint, when.Add(time.Minute))) // valid, same witness again
		o := check(t, dir, listOf(t, alice, bob), 2)
		if o.OK || len(o.Valid) != 1 || o.Lines[1] != "duplicate cosignature by witness.example/alice: counted once" {
			t.Errorf("a duplicated cosignature: %v %q", o.OK, o.Lines)
		}
	})
}

// redate changes the timestamp of a cosignature line without re-signing.
func redate(t *testing.T, line string, at time.Time) string {
	t.Helper()
	name, b64, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(line, "— "), "\n"), " ")
	sig, err := base64Std.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	binaryBE.PutUint64(sig[4:12], uint64(at.Unix()))
	return "— " + name + " " + base64Std.EncodeToString(sig) + "\n"
}

func TestCosignRefusesTamperedFolder(t *testing.T) {
	dir := sealed(t, "keyceremony/tampered")
	if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), []byte("kind: evil\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, transcript.CheckpointFile))
	_, err := Verified(dir)
	want := dir + " does not verify, so it cannot be cosigned: event 0: file plan.yaml differs from its recorded SHA-256\nhint: run keyceremony verify " + dir + " and compare the folder with the paper log; do not cosign it"
	if err == nil || err.Error() != want {
		t.Fatalf("cosign on a tampered folder: %v\nwant %s", err, want)
	}
	after, _ := os.ReadFile(filepath.Join(dir, transcript.CheckpointFile))
	if !bytes.Equal(before, after) {
		t.Fatal("the checkpoint changed")
	}
}

func TestCosignKeepsOtherWitnesses(t *testing.T) {
	dir := sealed(t, "keyceremony/race")
	r, err := Verified(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Another witness cosigns after this one was shown the checkpoint and before it cosigns.
	alice, bob := newKey(t, "witness.example/alice"), newKey(t, "witness.example/bob")
	if err := cosign(t, dir, bob, when); err != nil {
		t.Fatal(err)
	}
	if err := Cosign(dir, r.Checkpoint, alice, when); err != nil {
		t.Fatal(err)
	}
	if o := check(t, dir, listOf(t, alice, bob), 2); !o.OK {
		t.Fatalf("a cosignature was lost: %q", o.Lines)
	}
	// A checkpoint other than the one shown is refused.
	other := sealed(t, "keyceremony/race")
	err = Cosign(other, r.Checkpoint, alice, when)
	if err == nil || err.Error() != "the checkpoint in "+other+" changed after it was shown\nhint: run keyceremony cosign again and compare it with the paper log" {
		t.Fatalf("cosign of a checkpoint other than the one shown: %v", err)
	}
}

// Another witness's cosignature lands between this one's write and rename: this one fails, and
// the other's is kept.
func TestCosignLosesNothingToARace(t *testing.T) {
	dir := sealed(t, "keyceremony/race")
	r, _ := Verified(dir)
	alice, bob := newKey(t, "witness.example/alice"), newKey(t, "witness.example/bob")
	beforeRename = func() { appendLine(t, dir, bob.sign(r.Checkpoint, when)) }
	defer func() { beforeRename = func() {} }()
	path := filepath.Join(dir, transcript.CheckpointFile)
	err := Cosign(dir, r.Checkpoint, alice, when)
	if err == nil || err.Error() != path+" changed while the cosignature was made\nhint: run keyceremony cosign again" {
		t.Fatalf("a cosign racing another: %v", err)
	}
	beforeRename = func() {}
	if left, _ := filepath.Glob(filepath.Join(dir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if o := check(t, dir, listOf(t, alice, bob), 1); !slices.Equal(o.Valid, []string{"witness.example/bob"}) {
		t.Fatalf("the other witness's cosignature was lost: %q", o.Lines)
	}
	if err := cosign(t, dir, alice, when); err != nil {
		t.Fatalf("cosigning again: %v", err)
	}
	if o := check(t, dir, listOf(t, alice, bob), 2); !o.OK {
		t.Fatalf("after cosigning again: %q", o.Lines)
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := GenerateKey("witness.example/alice")
	if err != nil {
		t.Fatal(err)
	}
	pass := func(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }
	enc := filepath.Join(dir, "alice.key")
	if err := WriteKeyFile(enc, skey, []byte("correct horse battery"), 10); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(enc)
	if !Encrypted(data) || bytes.Contains(data, []byte("PRIVATE+KEY")) {
		t.Fatalf("the key file is not encrypted:\n%s", data)
	}
	if fi, _ := os.Stat(enc); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k, err := ReadKeyFile(enc, pass("correct horse battery"))
	if err != nil || k.Verifier().String() != vkey {
		t.Fatalf("ReadKeyFile: %v", err)
	}
	if _, err := ReadKeyFile(enc, pass("wrong horse battery")); err == nil || err.Error() != "the passphrase does not open "+enc+"\nhint: type it again; nothing was changed" {
		t.Errorf("a wrong passphrase: %v", err)
	}
	if err := WriteKeyFile(enc, skey, nil, 0); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("overwriting a key file: %v", err)
	}
	if got, _ := os.ReadFile(enc); !bytes.Equal(got, data) {
		t.Error("the key file was overwritten")
	}
	if err := WriteKeyFile(filepath.Join(dir, "short.key"), skey, []byte("short"), 10); err == nil || !strings.HasPrefix(err.Error(), "the passphrase has 5 characters, fewer than 12") {
		t.Errorf("a short passphrase: %v", err)
	}
	plain := filepath.Join(dir, "plain.key")
	if err := WriteKeyFile(plain, skey, nil, 0); err != nil {
		t.Fatal(err)
	}
	k, err = ReadKeyFile(plain, func() ([]byte, error) { t.Fatal("asked for a passphrase"); return nil, nil })
	if err != nil || k.Verifier().String() != vkey {
		t.Fatalf("an unencrypted key file: %v", err)
	}
}

func TestParseVerifier(t *testing.T) {
	k := newKey(t, "witness.example/alice")
	v := k.Verifier().String()
	if got, err := ParseVerifier(v); err != nil || got.String() != v {
		t.Fatalf("ParseVerifier(%s): %v", v, err)
	}
	wrongID := strings.Replace(v, fmt.Sprintf("+%08x+", k.Verifier().KeyID), "+00000000+", 1)
	for in, want := range map[string]string{
		"nonsense": `"nonsense" is not a verifier key (NAME+ID+KEY)`,
		wrongID:    fmt.Sprintf("verifier key witness.example/alice has the key ID 00000000, its key has %08x", k.Verifier().KeyID),
		// a signed-note Ed25519 (0x01) key is not a cosignature key
		"witness.example/alice+01234567+AQ" + strings.Repeat("A", 42): "verifier key witness.example/alice is not an Ed25519 cosignature key (type 0x04)",
	} {
		if _, err := ParseVerifier(in); err == nil || err.Error() != want {
			t.Errorf("ParseVerifier(%q): %v\nwant %s", in, err, want)
		}
	}
	var l List
	if err := l.Add(v); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(v); err == nil || err.Error() != "witness.example/alice is listed twice\nhint: list each witness once" {
		t.Errorf("a witness listed twice: %v", err)
	}
	if l.Len() != 1 {
		t.Errorf("the list holds %d witnesses after a refused one", l.Len())
	}
}

func TestVectorMatchesSpec(t *testing.T) {
	// c2sp.org/tlog-cosignature: the signed message is the header, the time line, then the
	// note text; the key ID hashes name, newline, 0x04 and the key.
	got := string(cosignedMessage("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", time.Unix(1679315147, 0)))
	want := "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	if got != want {
		t.Fatalf("signed message\n%q\nwant\n%q", got, want)
	}
}

// ssh-keygen is used to cross-check SSH signatures when it is installed; the tests that need it
// fail without it (scripts/setup installs openssh-client).
func sshKeygen(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("ssh-keygen is needed to cross-check SSH signatures: apt-get install openssh-client")
	}
	return p
}

// shell runs scripts/verify-transcript on dir with args and returns its exit status and lines.
func shell(t *testing.T, dir string, args ...string) (int, []string) {
	t.Helper()
	script, _ := filepath.Abs("../../scripts/verify-transcript")
	cmd := exec.Command(script, append(args, ".")...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if e, ok := err.(*exec.ExitError); ok {
		code = e.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Logf("verify-transcript stderr: %s", stderr.String())
	}
	return code, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// TestShellAgrees: scripts/verify-transcript --witness counts the same Ed25519 cosignatures,
// names the same refused ones in the same words, and passes or fails the same quorums.
func TestShellAgrees(t *testing.T) {
	alice, bob, carol := newKey(t, "witness.example/alice"), newKey(t, "witness.example/bob"), newKey(t, "witness.example/carol")
	mallory := newKey(t, "witness.example/mallory")
	dir := sealed(t, "keyceremony/shell")
	other := sealed(t, "keyceremony/shell")
	for _, k := range []*Key{alice, mallory, bob} {
		if err := cosign(t, dir, k, when); err != nil {
			t.Fatal(err)
		}
	}
	r := transcript.Verify(dir)
	appendLine(t, dir, alice.sign(r.Checkpoint, when.Add(time.Minute)))                // duplicate
	appendLine(t, dir, carol.sign(transcript.Verify(other).Checkpoint, when))          // another checkpoint
	appendLine(t, dir, redate(t, carol.sign(r.Checkpoint, when), when.Add(time.Hour))) // re-dated
	l := listOf(t, alice, bob, carol)
	var args []string
	for _, k := range []*Key{alice, bob, carol} {
		args = append(args, "--witness", k.Verifier().String())
	}
	for quorum := 1; quorum <= 3; quorum++ {
		o := check(t, dir, l, quorum)
		code, lines := shell(t, dir, append(args, "--quorum", fmt.Sprint(quorum))...)
		if (code == 0) != o.OK || (code != 0 && code != 1) {
			t.Fatalf("quorum %d: Check OK %v, the script exits %d:\n%s", quorum, o.OK, code, strings.Join(lines, "\n"))
		}
		// The script's witness lines come after the cosignature listing and before its verdict.
		tail := lines[len(lines)-len(o.Lines)-map[bool]int{true: 1, false: 0}[o.OK]:]
		want := o.Lines
		if o.OK {
			want = append(slices.Clone(o.Lines), "OK: 3 events, sealed")
		}
		if !slices.Equal(tail, want) {
			t.Errorf("quorum %d: the script says\n%s\nCheck says\n%s", quorum, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
	if o := check(t, dir, l, 2); !o.OK || len(o.Lines) != 7 {
		t.Errorf("expected alice and bob counted and five lines of refusals and counts: %q", o.Lines)
	}
	// A verifier key the script cannot read is a usage error.
	if code, _ := shell(t, dir, "--witness", "nonsense"); code != 2 {
		t.Errorf("a malformed --witness: exit %d, want 2", code)
	}
}
