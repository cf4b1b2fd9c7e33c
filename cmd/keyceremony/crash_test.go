package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/mediatest"
)

// The crash tests run the test binary as keyceremony (see TestMain) with these hooks:
// killAtEnv makes it SIGKILL itself at an exact point: "record:N", once the engine has recorded
// its Nth transcript event; "after:STEP", once it has recorded the event of STEP; "effect:N", when its Nth slow effect on the token (making a key, a
// backup, a package) is done but not yet recorded; "io:N", just before its Nth fsync or rename; "rename:N", just before its Nth rename.
// slowIOEnv (a duration) makes every fsync and rename wait, so that a kill at a random instant
// lands inside a write.
const (
	killAtEnv = "KEYCEREMONY_TEST_KILL_AT"
	slowIOEnv = "KEYCEREMONY_TEST_SLOW_IO"
)

// installCrashHooks sets the hooks the environment asks for; false when it asks for none.
func installCrashHooks() bool {
	at, n, kill := strings.Cut(os.Getenv(killAtEnv), ":")
	slow, _ := time.ParseDuration(os.Getenv(slowIOEnv))
	if !kill && slow == 0 {
		return false
	}
	k := &killer{at: at, step: n}
	k.n, _ = strconv.Atoi(n)
	crashTestHook = func(in ceremony.Interaction) ceremony.Interaction { k.Interaction = in; return k }
	atomicfile.TestHook = func(op, path string) {
		time.Sleep(slow)
		k.count("io")
		k.count(op)
	}
	return true
}

// killer passes the engine's calls on and kills the process at its point. The engine reports an
// event only once it is written and synced, and ends a Busy span right after the effect.
type killer struct {
	ceremony.Interaction
	at      string
	n, seen int
	step    string // for "after:STEP": kill once the event of STEP is recorded
}

func (k *killer) count(point string) {
	if point != k.at {
		return
	}
	if k.seen++; k.seen == k.n {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

func (k *killer) Record(summary string) {
	k.Interaction.Record(summary)
	k.count("record")
	if k.at == "after" && (summary == k.step || strings.HasPrefix(summary, k.step+": ")) {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
}

func (k *killer) Busy(title string) func() {
	done := k.Interaction.Busy(title)
	return func() {
		done()
		k.count("effect")
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// crashWorld holds the fixtures every crash starts from.
type crashWorld struct {
	base     string
	fixtures []os.DirEntry
	runArgs  []string
}

func newCrashWorld(t *testing.T) *crashWorld {
	base := t.TempDir()
	if err := writeFixtures(base, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	fixtures, _ := os.ReadDir(base)
	t.Setenv("KC_PIN", "1234")
	t.Setenv("KC_SO_PIN", "12345678")
	return &crashWorld{base: base, fixtures: fixtures, runArgs: append([]string{"run", "plan.yaml", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(".")...)}
}

// dir makes a folder with the fixtures and a fresh token for one run.
func (w *crashWorld) dir(t *testing.T, name string) string {
	dir := filepath.Join(w.base, name)
	os.Mkdir(dir, 0o700)
	copyFixtures(t, w.base, dir, w.fixtures)
	newTokens(t, dir, "test")
	return dir
}

// crash is one way to interrupt a ceremony: at an exact point, or after a delay with slowed I/O.
type crash struct {
	at    string
	n     int
	delay time.Duration
	step  string // for at "after"
}

func (c crash) String() string {
	switch c.at {
	case "":
		return fmt.Sprintf("killed after %v", c.delay)
	case "after":
		return "killed after the event of " + c.step
	}
	return fmt.Sprintf("killed at %s %d", c.at, c.n)
}

// slowIO is how long each fsync and rename waits in the random kills.
const slowIO = 2 * time.Millisecond

// TestCrashCampaign kills the real binary with SIGKILL after every recorded event, at every
// effect before it is recorded, just before every fsync and rename, and at a few random instants
// with slowed I/O (the seed is printed); then it resumes or, one time in three, aborts. Every run
// must end in a folder that both verifiers accept, with no key, share set or package made twice
// and no stray file. A run that cannot be ended so is a dead end.
func TestCrashCampaign(t *testing.T) {
	campaign(t, newCrashWorld(t), []string{"effect", "io"}, 6)
}

// TestCrashCampaignSeveralKeys runs the campaign on a ceremony of two keys with a share set each
// (the fixtures' plan-several-keys.yaml), killed after every event and at every effect: an
// interruption in one key's set must void that set alone, and nothing be made twice.
func TestCrashCampaignSeveralKeys(t *testing.T) {
	campaign(t, severalKeysWorld(t, "per-key"), []string{"effect"}, 0)
}

// severalKeysWorld is the crash world with the fixtures' plan of two keys, backed up with sets.
func severalKeysWorld(t *testing.T, sets string) *crashWorld {
	w := newCrashWorld(t)
	plan, err := os.ReadFile(filepath.Join(w.base, "plan-several-keys.yaml"))
	if err == nil {
		plan = bytes.Replace(plan, []byte("sets: per-key"), []byte("sets: "+sets), 1)
		err = os.WriteFile(filepath.Join(w.base, "plan.yaml"), plan, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestResumeHalfWrittenSharedSet: an interruption while a set shared by two keys is written
// leaves its folder with one key's manifest and blob; resume voids the set, naming the files in
// the key's folder, and makes a new one.
func TestResumeHalfWrittenSharedSet(t *testing.T) {
	w := severalKeysWorld(t, "shared")
	dir := w.dir(t, "half-set")
	w.kill(t, dir, crash{at: "after", step: "intent:backup"})
	var setID string
	for _, e := range readEvents(t, filepath.Join(dir, "out")) {
		if e.Step == "intent:backup" {
			setID, _ = e.Facts["set_id"].(string)
		}
	}
	half := filepath.Join(dir, "out", "backup-"+setID, "key-a")
	if err := os.MkdirAll(half, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(half, "backup-manifest.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(half, "backup-blob.bin"), []byte("half"), 0o644)
	if _, errOut, code := keyceremony(t, dir, resumeArgs("--resume", "out")...); code != 0 {
		t.Fatalf("resume: %s", errOut)
	}
	var void []any
	for _, e := range readEvents(t, filepath.Join(dir, "out")) {
		if e.Step == "void-set:"+setID {
			void, _ = e.Facts["deleted_record_files"].([]any)
		}
	}
	want := "[backup-" + setID + "/key-a/backup-blob.bin backup-" + setID + "/key-a/backup-manifest.json]"
	if fmt.Sprint(void) != want {
		t.Errorf("the void-set event deleted %v, want %s", void, want)
	}
	checkEnded(t, dir, "out", false, "resumed after a half-written shared set")
}

// campaign kills the ceremony of w after every recorded event, at every point of each kind in
// kinds (see killAtEnv), and at random instants with slowed I/O, then resumes or aborts it.
func campaign(t *testing.T, w *crashWorld, kinds []string, random int) {
	ref := w.dir(t, "ref")
	if _, stderr, code := keyceremony(t, ref, w.runArgs...); code != 0 {
		t.Fatalf("reference run: %s", stderr)
	}
	total := countLines(filepath.Join(ref, "out", "transcript.jsonl"))
	slowRef := w.dir(t, "ref-slow")
	start := time.Now()
	if _, killed := w.kill(t, slowRef, crash{at: "none"}); killed {
		t.Fatal("the slowed reference run was killed")
	}
	slowTotal := time.Since(start)

	var points []crash
	for n := 1; n < total; n++ {
		points = append(points, crash{at: "record", n: n})
	}
	seed := time.Now().UnixNano()
	t.Logf("random kills: seed %d (slowed reference run %v)", seed, slowTotal.Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for range random {
		points = append(points, crash{delay: time.Duration(rng.Int64N(int64(slowTotal)))})
	}
	tried, deadEnds, notStarted := 0, 0, 0
	try := func(c crash) bool {
		dir := w.dir(t, fmt.Sprintf("kill-%s-%d-%d", c.at, c.n, c.delay))
		events, killed := w.kill(t, dir, c)
		if !killed {
			return false
		}
		tried++
		abort := tried%3 == 0
		what := fmt.Sprintf("%v (%d events), then %s", c, events, map[bool]string{false: "resumed", true: "aborted"}[abort])
		started, ok := w.finish(t, dir, "out", abort, what)
		if !ok {
			deadEnds++
		}
		if !started {
			notStarted++
		}
		return true
	}
	for _, at := range kinds {
		for n := 1; try(crash{at: at, n: n}); n++ {
		}
	}
	for _, c := range points {
		if !try(c) && c.at != "" {
			t.Fatalf("the ceremony finished before its event %d", c.n)
		}
	}
	t.Logf("kill points tried: %d; dead ends: %d; killed before the output folder existed (started again): %d", tried, deadEnds, notStarted)
}

// TestCrashDiskFull runs the ceremony with its output folder (and the handouts beside it) on a
// tmpfs too small for it, at several sizes; once space is freed (the tmpfs grown), resume or, one
// time in two, abort must end it as after a kill.
func TestCrashDiskFull(t *testing.T) {
	w := newCrashWorld(t)
	ref := w.dir(t, "ref")
	if _, stderr, code := keyceremony(t, ref, w.runArgs...); code != 0 {
		t.Fatalf("reference run: %s", stderr)
	}
	// tmpfs counts whole pages: the space the ceremony takes.
	need := int64(0)
	filepath.WalkDir(ref, func(path string, d fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(ref, path); err == nil && d.Type().IsRegular() && strings.HasPrefix(rel, "out") {
			fi, _ := d.Info()
			need += (fi.Size() + 4095) / 4096 * 4096
		}
		return nil
	})
	var sizes []int64
	for k := int64(1); k < 8; k++ {
		sizes = append(sizes, max(4096, need*k/8/4096*4096))
	}
	deadEnds := 0
	for i, size := range sizes {
		dir := w.dir(t, fmt.Sprintf("full-%d", size))
		mnt := outputOn(t, dir, "fs")
		mediatest.Tmpfs(t, mnt, size)
		_, errOut, code := keyceremony(t, dir, w.runArgs...)
		if code == 0 {
			t.Errorf("%d bytes: the ceremony did not run out of space (it needs %d)", size, need)
			continue
		}
		if !strings.Contains(errOut, "no space left on device") {
			t.Errorf("%d bytes: the run failed without saying the disk is full:\n%s", size, errOut)
		}
		mediatest.Resize(t, mnt, 64<<20)
		abort := i%2 == 1
		what := fmt.Sprintf("disk full at %d of %d bytes, then %s", size, need, map[bool]string{false: "resumed", true: "aborted"}[abort])
		if _, ok := w.finish(t, dir, "fs/out", abort, what); !ok {
			deadEnds++
		}
	}
	t.Logf("disk-full sizes tried: %d %v (the ceremony needs %d bytes); dead ends: %d", len(sizes), sizes, need, deadEnds)
}

// outputOn moves the plan's output folder in dir into the new folder dir/sub and returns it,
// for a file system to be mounted there.
func outputOn(t *testing.T, dir, sub string) string {
	t.Helper()
	plan, _ := os.ReadFile(filepath.Join(dir, "plan.yaml"))
	moved := bytes.Replace(plan, []byte("\noutput: out\n"), []byte("\noutput: "+sub+"/out\n"), 1)
	if bytes.Equal(moved, plan) {
		t.Fatal("the fixture plan has no 'output: out' line")
	}
	os.WriteFile(filepath.Join(dir, "plan.yaml"), moved, 0o600)
	mnt := filepath.Join(dir, sub)
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	return mnt
}

// TestCrashExfat runs the ceremony with its output folder on exFAT, where files and folders are
// placed by the fallback of internal/atomicfile, killed before every rename (for a file, once its
// name is reserved by an empty placeholder), then resumed or aborted: every run must end as on a
// Linux file system.
func TestCrashExfat(t *testing.T) {
	w := newCrashWorld(t)
	full := w.dir(t, "exfat-full")
	mediatest.Exfat(t, outputOn(t, full, "media"), 16<<20)
	if _, errOut, code := keyceremony(t, full, w.runArgs...); code != 0 {
		t.Fatalf("a ceremony on exFAT: %s", errOut)
	}
	checkEnded(t, full, "media/out", false, "a ceremony on exFAT")
	tried, deadEnds := 0, 0
	for n := 1; ; n++ {
		dir := w.dir(t, fmt.Sprintf("exfat-rename-%d", n))
		mediatest.Exfat(t, outputOn(t, dir, "media"), 16<<20)
		events, killed := w.kill(t, dir, crash{at: "rename", n: n})
		if !killed {
			break
		}
		tried++
		if _, ok := w.finish(t, dir, "media/out", tried%3 == 0, fmt.Sprintf("exFAT, killed at rename %d (%d events)", n, events)); !ok {
			deadEnds++
		}
	}
	t.Logf("exFAT: kill points tried: %d; dead ends: %d", tried, deadEnds)
}

// kill runs the ceremony as a child process in dir and kills it at c. It returns how many
// events the transcript holds, and whether the child was killed (false when the ceremony has
// fewer such points, or finished before the delay).
func (w *crashWorld) kill(t *testing.T, dir string, c crash) (int, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], w.runArgs...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", killAtEnv, c.at, c.n))
	if c.at == "after" {
		cmd.Env = append(os.Environ(), killAtEnv+"=after:"+c.step)
	}
	if c.at == "" || c.at == "none" {
		cmd.Env = append(cmd.Env, slowIOEnv+"="+slowIO.String())
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if c.delay > 0 {
		timer := time.AfterFunc(c.delay, func() { cmd.Process.Kill() })
		defer timer.Stop()
	}
	err := cmd.Wait()
	// The output folder is out, or out in the folder a file system is mounted on (outputOn).
	transcripts, _ := filepath.Glob(filepath.Join(dir, "*", "out", "transcript.jsonl"))
	events := 0
	for _, p := range append(transcripts, filepath.Join(dir, "out", "transcript.jsonl")) {
		events += countLines(p)
	}
	if err == nil {
		return events, false
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%v: the ceremony failed instead (%v): %s", c, err, stderr.String())
	}
	return events, true
}

// finish ends a killed ceremony with --resume or --abort (or starts it again when it was killed
// before its output folder existed) and checks the result. It reports whether the ceremony had
// started, and whether it could be ended.
func (w *crashWorld) finish(t *testing.T, dir, out string, abort bool, what string) (started, ok bool) {
	t.Helper()
	args := append([]string{"run", "--resume", out, "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"}, identityFlags(".")...)
	if abort {
		args = resumeArgs("--abort", out)
	}
	started = true
	if _, err := os.Lstat(filepath.Join(dir, out)); errors.Is(err, fs.ErrNotExist) {
		// Nothing was written or made: the ceremony starts again, and is then resumed or aborted
		// no more.
		started, args, abort = false, w.runArgs, false
		if _, errOut, code := keyceremony(t, dir, "run", "--resume", out); code == 0 || !strings.Contains(errOut, out+" does not exist: if it is the output folder of a ceremony, that ceremony had not started") {
			t.Errorf("%s: resume of a folder never made: %s", what, errOut)
		}
	}
	_, errOut, code := keyceremony(t, dir, args...)
	switch {
	case transcript.Sealed(filepath.Join(dir, out)) && code != 0 && strings.Contains(errOut, "is finished and sealed; there is nothing to resume"):
		// Killed after the seal was in place: the ceremony had ended, and says so.
	case code != 0:
		t.Errorf("%s: DEAD END:\n%s", what, errOut)
		return started, false
	}
	checkEnded(t, dir, out, abort, what)
	return started, true
}

// checkEnded checks a ceremony that was interrupted and then finished or aborted: both verifiers
// accept it, nothing was made twice, and the folder holds only what its transcript names.
func checkEnded(t *testing.T, dir, rel string, aborted bool, what string) {
	t.Helper()
	out := filepath.Join(dir, rel)
	if _, errOut, code := keyceremony(t, dir, "verify", rel); code != 0 {
		t.Errorf("%s: keyceremony verify refuses the result:\n%s", what, errOut)
	}
	script, _ := filepath.Abs("../../scripts/verify-transcript")
	if b, err := exec.Command(script, out).CombinedOutput(); err != nil {
		t.Errorf("%s: scripts/verify-transcript refuses the result: %v\n%s", what, err, b)
	}
	evs := readEvents(t, out)
	p, err := ceremony.LoadPlan(filepath.Join(out, ceremony.PlanCopyName))
	if err != nil {
		t.Fatal(err)
	}
	var once []string // the steps that make something: each at most once, and once unless aborted
	sets := 0
	for _, st := range p.Script() {
		id, _, _ := strings.Cut(st.ID, ":")
		switch id {
		case "backup":
			sets++
			fallthrough
		case "generate-key", "wrap":
			once = append(once, st.ID)
		}
	}
	for _, step := range append(once, "end") {
		count := 0
		for _, e := range evs {
			if e.Step == step && e.Kind == "step" || step == "end" && e.Kind == "end" {
				count++
			}
		}
		if count > 1 || count == 0 && (!aborted || step == "end") {
			t.Errorf("%s: %d %s events", what, count, step)
		}
	}
	found, _ := filepath.Glob(filepath.Join(out, "backup-*"))
	if len(found) > sets || len(found) < sets && !aborted {
		t.Errorf("%s: %d share sets, want %d: %v", what, len(found), sets, found)
	}
	for _, v := range p.Views() {
		if err := atMostOneKey(v.Key.Label, !aborted); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	for _, s := range strays(t, out, evs) {
		t.Errorf("%s: stray file %s", what, s)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".tmp-*")); len(left) > 0 {
		t.Errorf("%s: temporary folders beside the output: %v", what, left)
	}
}

// strays lists the files under the ceremony folder out that no event names and that are not a
// fixed part of the format, and any temporary file.
func strays(t *testing.T, out string, evs []event) []string {
	named := map[string]bool{"transcript.jsonl": true, "transcript.pub": true, "checkpoint": true}
	for _, e := range evs {
		for _, raw := range e.Files {
			var f struct{ Path string }
			json.Unmarshal(raw, &f)
			named[f.Path] = true
		}
	}
	var found []string
	filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(out, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(d.Name(), atomicfile.TempPrefix) || !d.IsDir() && !named[rel] {
			found = append(found, rel)
		}
		return nil
	})
	return found
}

// atMostOneKey checks the token holds at most one key (or key pair) with the label, and one when
// must is true: FindKey refuses a label held by two keys.
func atMostOneKey(label string, must bool) error {
	m, err := hsm.Open(softhsmModule)
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.OpenSession("test")
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Login(hsm.User, []byte("1234")); err != nil {
		return err
	}
	if exists, err := s.LabelExists(label); err != nil || !exists && !must {
		return err
	}
	_, err = s.FindKey(label)
	return err
}

// TestCrashAbort kills a ceremony in the middle of handing out shares and aborts it: the share
// set is voided, the abort is recorded with what was not done, and the transcript verifies.
func TestCrashAbort(t *testing.T) {
	w := newCrashWorld(t)
	dir := w.dir(t, "abort")
	// begin, signing-key-checked, trust, three wrapping-key checks, intent:generate-key,
	// generate-key, intent:backup, handout:1
	killedAt, _ := w.kill(t, dir, crash{at: "record", n: 10})
	// Someone keeps a copy of the unsealed set's manifest and blob before the abort.
	sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*"))
	if len(sets) != 1 {
		t.Fatalf("killed after %d events: %d share sets, want the unsealed one", killedAt, len(sets))
	}
	for _, f := range []string{"backup-manifest.json", "backup-blob.bin"} {
		data, _ := os.ReadFile(filepath.Join(sets[0], f))
		os.WriteFile(filepath.Join(dir, "kept-"+f), data, 0o600)
	}
	stdout, errOut, code := keyceremony(t, dir, resumeArgs("--abort", "out")...)
	if code != 0 {
		t.Fatalf("killed after %d events, abort failed:\n%s", killedAt, errOut)
	}
	if !strings.Contains(stdout, "ceremony test ended without finishing (aborted) and sealed in ") {
		t.Errorf("abort stdout: %q", stdout)
	}
	checkEnded(t, dir, "out", true, "aborted during the handouts")
	evs := readEvents(t, filepath.Join(dir, "out"))
	abort := evs[len(evs)-2]
	if abort.Step != "abort" || abort.Kind != "exception" || !strings.Contains(abort.Facts["exception"].(string), "wrap:aws") ||
		abort.Facts["reason"] != testAbortReason || !strings.HasPrefix(abort.Facts["exception"].(string), "the ceremony ended without finishing, aborted by ") {
		t.Errorf("the abort event: %+v", abort)
	}
	if c, _ := abort.Facts["confirmed"].(map[string]any); c["how"] != "headless" {
		t.Errorf("the abort's confirmation: %v", abort.Facts["confirmed"])
	}
	// An abort is not a resume: the record does not say the ceremony was resumed.
	for _, e := range evs {
		if what, _ := e.Facts["exception"].(string); strings.Contains(what, "ceremony resumed") && e.Seq >= killedAt {
			t.Errorf("the abort recorded %q", what)
		}
	}
	if sets, _ := filepath.Glob(filepath.Join(dir, "out", "backup-*")); len(sets) != 0 && killedAt < 14 {
		t.Errorf("killed after %d events, an unsealed share set was not voided: %v", killedAt, sets)
	}
	// The void set is destroyed, not set aside: its blob and its share files are gone, and the
	// record names what was deleted and tells custodians to destroy their copies.
	if left, _ := filepath.Glob(filepath.Join(dir, "out*", "*backup-*")); len(left) != 0 {
		t.Errorf("files of the void set remain: %v", left)
	}
	var void *event
	for i := range evs {
		if strings.HasPrefix(evs[i].Step, "void-set:") {
			void = &evs[i]
		}
	}
	if void == nil {
		var steps []string
		for _, e := range evs {
			steps = append(steps, e.Step)
		}
		t.Fatalf("killed after %d events, no void-set event: %v", killedAt, steps)
	}
	deleted := fmt.Sprint(void.Facts["deleted_record_files"], void.Facts["deleted_handouts"])
	for _, want := range []string{"backup-manifest.json", "backup-blob.bin", "share-1-alice.age"} {
		if !strings.Contains(deleted, want) {
			t.Errorf("the void-set event does not name %s as deleted: %s", want, deleted)
		}
	}
	if note, _ := void.Facts["note"].(string); !strings.Contains(note, "Deleting does not wipe flash media") || !strings.Contains(note, "custodians must destroy every copy") {
		t.Errorf("the void-set note: %q", note)
	}
	if !strings.Contains(errOut, "notice: share set ") {
		t.Errorf("the screen did not say the set is void:\n%s", errOut)
	}
	if _, _, code := keyceremony(t, dir, "run", "--resume", "out", "--yes", "--pin-env", "KC_PIN", "--so-pin-env", "KC_SO_PIN"); code == 0 {
		t.Error("an aborted ceremony was resumed")
	}

	// The kept copy opens nothing: the record says the set is void.
	restore := "version: 1\nkind: restore\nceremony: restore-void\ntoken: {module: " + softhsmModule + ", token: test}\n" +
		"key: {label: restored, type: AES-256}\nparticipants:\n  - {role: administrator, name: Ada}\n  - {role: witness, name: Wendy}\n" +
		"restore: {manifest: kept-backup-manifest.json, blob: kept-backup-blob.bin, ceremonies: [out]}\noutput: restored\n"
	os.WriteFile(filepath.Join(dir, "restore.yaml"), []byte(restore), 0o600)
	setID := strings.TrimPrefix(filepath.Base(sets[0]), "backup-")
	for _, args := range [][]string{{"plan", "check", "restore.yaml"}, {"run", "restore.yaml", "--yes", "--pin-env", "KC_PIN"}} {
		_, errOut, code := keyceremony(t, dir, args...)
		want := "keyceremony: backup set " + setID + " is void: ceremony folder out records that it was never sealed and was destroyed\n" +
			"keyceremony: hint: its shares open nothing you may rely on; restore from the set that ceremony sealed instead\n"
		if code == 0 || errOut != want {
			t.Errorf("%s of the void set: exit %d\n%s\nwant\n%s", args[0], code, errOut, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "restored")); err == nil {
		t.Error("the refused restore made its output folder")
	}
}

func copyFixtures(t *testing.T, from, to string, entries []os.DirEntry) {
	t.Helper()
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
	}
}
