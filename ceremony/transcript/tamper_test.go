package transcript

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"
)

var shellAll = flag.Bool("shellall", false, "run scripts/verify-transcript on every tamper case, not only on the sample")

// tamperCase is one damaged copy of a sealed ceremony folder and what Verify must say of it.
type tamperCase struct {
	name    string
	changes map[string][]byte // file in the folder -> new content; nil removes the file
	want    int               // Report.FirstBad
	file    string            // a file the problem must name, if any
	shell   bool              // in the sample scripts/verify-transcript runs on
}

// TestTamper damages a sealed transcript in every way listed in the package's test plan, checks
// that Verify detects each damage and names the first bad event (or file), and that
// scripts/verify-transcript agrees on a sample of the cases (on all of them with -shellall).
func TestTamper(t *testing.T) {
	// RSA PKCS#1 v1.5 differs from RSA-PSS only in the padding verify checks, which the round
	// trip, seal and resume tests run through both verifiers; its tamper cases would add 25 s.
	for _, alg := range slices.DeleteFunc(slices.Clone(algorithms), func(a string) bool { return a == AlgorithmRSAPKCS1 }) {
		t.Run(alg, func(t *testing.T) {
			signer := newSigner(t, alg)
			dir, _ := ceremony(t, signer)
			if r := Verify(dir); !r.OK {
				t.Fatalf("the untouched folder does not verify: %s", r.Problem)
			}
			cases := tamperCases(t, dir, alg)
			start := time.Now()
			goRuns, shellRuns := runTamper(t, dir, cases)
			t.Logf("%s: %d tamper cases, all run through Verify, %d through scripts/verify-transcript, in %v",
				alg, goRuns, shellRuns, time.Since(start).Round(time.Millisecond))
		})
	}
}

func tamperCases(t *testing.T, dir, alg string) []tamperCase {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	data := read(TranscriptFile)
	lines, _ := splitLines(data)
	n := len(lines)
	events, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var cases []tamperCase
	add := func(c tamperCase) { cases = append(cases, c) }
	join := func(ls [][]byte) []byte {
		b := []byte{}
		for _, l := range ls {
			b = append(append(b, l...), '\n')
		}
		return b
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	lineStart := func(k int) int { return bytes.Index(data, lines[k]) }

	// Every single-byte change of the transcript: the line holding the byte (its newline
	// included) is the first bad one.
	sample := map[int]bool{len(data) - 1: true} // the final newline
	sample[lineStart(3)-1] = true               // the newline ending line 2
	sample[0] = true
	sample[lineStart(4)+len(`{"seq":`)] = true                              // the seq digit of line 4
	sample[lineStart(5)+bytes.Index(lines[5], []byte(`"prev":"`))+9] = true // prev of line 5
	sample[lineStart(3)+bytes.Index(lines[3], []byte(`"sha256":"`))+12] = true
	sample[lineStart(6)+len(lines[6])/2] = true
	// The last base64 character of line 3's sig: its unused bits change nothing a lenient
	// decoder sees.
	sig3 := bytes.TrimRight(lines[3][:len(lines[3])-2], "=")
	sample[lineStart(3)+len(sig3)-1] = true
	line := 0
	for i := range data {
		add(tamperCase{name: fmt.Sprintf("transcript byte %d", i), changes: map[string][]byte{TranscriptFile: flip(data, i)},
			want: line, shell: sample[i] && (alg == AlgorithmEd25519 || i == len(data)-1 || i == lineStart(3)+len(sig3)-1)})
		if data[i] == '\n' {
			line++
		}
	}
	ed := alg == AlgorithmEd25519
	for k := 0; k < n; k++ {
		others := append(append([][]byte{}, lines[:k]...), lines[k+1:]...)
		add(tamperCase{name: fmt.Sprintf("line %d deleted", k), changes: map[string][]byte{TranscriptFile: join(others)},
			want: k, shell: k == 3 || ed && (k == 0 || k == n-1)})
		dup := append(append(append([][]byte{}, lines[:k+1]...), lines[k]), lines[k+1:]...)
		add(tamperCase{name: fmt.Sprintf("line %d repeated", k), changes: map[string][]byte{TranscriptFile: join(dup)},
			want: k + 1, shell: ed && k == 2})
		mid := data[:lineStart(k)+len(lines[k])/2]
		add(tamperCase{name: fmt.Sprintf("cut in the middle of line %d", k), changes: map[string][]byte{TranscriptFile: mid},
			want: k, shell: ed && k == 4})
		add(tamperCase{name: fmt.Sprintf("cut after %d lines", k), changes: map[string][]byte{TranscriptFile: join(lines[:k])},
			want: k, shell: ed && (k == 0 || k == 5)})
	}
	add(tamperCase{name: "final newline removed", changes: map[string][]byte{TranscriptFile: data[:len(data)-1]}, want: n - 1, shell: ed})
	add(tamperCase{name: "line appended after the end", changes: map[string][]byte{TranscriptFile: join(append(append([][]byte{}, lines...), lines[1]))},
		want: n, shell: ed})
	swaps := [][2]int{{0, 2}, {1, 5}, {2, 6}}
	for k := 0; k+1 < n; k++ {
		swaps = append(swaps, [2]int{k, k + 1})
	}
	for _, s := range swaps {
		swapped := append([][]byte{}, lines...)
		swapped[s[0]], swapped[s[1]] = swapped[s[1]], swapped[s[0]]
		add(tamperCase{name: fmt.Sprintf("lines %d and %d swapped", s[0], s[1]), changes: map[string][]byte{TranscriptFile: join(swapped)},
			want: s[0], shell: s == [2]int{3, 4} || ed && (s == [2]int{0, 1} || s == [2]int{1, 5})})
	}

	// Artefacts: every byte changed, and each one removed; the first event naming it is bad.
	firstNaming := map[string]int{}
	for _, e := range events {
		for _, f := range e.Files {
			if _, ok := firstNaming[f.Path]; !ok {
				firstNaming[f.Path] = e.Seq
			}
		}
	}
	for path, seq := range firstNaming {
		content := read(path)
		for i := range content {
			add(tamperCase{name: fmt.Sprintf("%s byte %d", path, i), changes: map[string][]byte{path: flip(content, i)},
				want: seq, file: path, shell: ed && path == "backup/manifest.json" && i == 0})
		}
		add(tamperCase{name: path + " removed", changes: map[string][]byte{path: nil}, want: seq, file: path,
			shell: ed && path == "packages/aws/EncryptedKeyMaterial.bin"})
	}

	// The checkpoint: every byte changed, removed, signed by another key.
	cp := read(CheckpointFile)
	cpSig := bytes.LastIndexAny(bytes.TrimRight(cp, "=\n"), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	for i := range cp {
		add(tamperCase{name: fmt.Sprintf("checkpoint byte %d", i), changes: map[string][]byte{CheckpointFile: flip(cp, i)},
			want: -1, shell: i == cpSig || ed && i == len(testOrigin)+1})
	}
	add(tamperCase{name: "checkpoint removed", changes: map[string][]byte{CheckpointFile: nil}, want: -1, shell: ed})
	add(tamperCase{name: "checkpoint with a line added", changes: map[string][]byte{CheckpointFile: append(bytes.Clone(cp), "x\n"...)}, want: -1})
	other := otherCheckpoint(t, dir, alg)
	add(tamperCase{name: "checkpoint by another key", changes: map[string][]byte{CheckpointFile: other}, want: -1, shell: ed})

	// transcript.pub: every byte changed, removed, another key.
	pub := read(PublicKeyFile)
	for i := range pub {
		add(tamperCase{name: fmt.Sprintf("transcript.pub byte %d", i), changes: map[string][]byte{PublicKeyFile: flip(pub, i)},
			want: 0, shell: ed && i == 40})
	}
	add(tamperCase{name: "transcript.pub removed", changes: map[string][]byte{PublicKeyFile: nil}, want: 0})
	otherKey, _ := newKey(newSigner(t, alg).Public(), alg)
	add(tamperCase{name: "transcript.pub of another key", changes: map[string][]byte{PublicKeyFile: otherKey.pem()}, want: 0, shell: true})
	return cases
}

// otherCheckpoint returns the checkpoint of the same transcript sealed by another key.
func otherCheckpoint(t *testing.T, dir, alg string) []byte {
	w := &Writer{dir: t.TempDir(), signer: newSigner(t, alg), ended: testOrigin}
	w.key, _ = newKey(w.signer.Public(), alg)
	data, _ := os.ReadFile(filepath.Join(dir, TranscriptFile))
	lines, _ := splitLines(data)
	w.next, w.head = len(lines), lineSum(lines[len(lines)-1])
	if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(w.dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runTamper runs every case through verify on an in-memory copy of dir, and the sampled
// ones (all with -shellall) through Verify and scripts/verify-transcript on copies of dir on
// disk, one per worker, restoring each file after a case.
func runTamper(t *testing.T, dir string, cases []tamperCase) (goRuns, shellRuns int64) {
	base := fstest.MapFS{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		base[filepath.ToSlash(rel)] = &fstest.MapFile{Data: b, Mode: 0o644}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	workers := max(2, runtime.GOMAXPROCS(0))
	run := func(cases []tamperCase, setup func() func(tamperCase)) {
		jobs := make(chan tamperCase)
		var wg sync.WaitGroup
		for range workers {
			do := setup()
			wg.Add(1)
			go func() {
				defer wg.Done()
				for c := range jobs {
					do(c)
				}
			}()
		}
		for _, c := range cases {
			jobs <- c
		}
		close(jobs)
		wg.Wait()
	}
	var sample []tamperCase
	for _, c := range cases {
		if c.shell || *shellAll {
			sample = append(sample, c)
		}
	}
	var shellWG sync.WaitGroup
	shellWG.Add(1)
	go func() {
		defer shellWG.Done()
		run(sample, func() func(tamperCase) {
			copyDir := t.TempDir()
			if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
				t.Error(err)
			}
			return func(c tamperCase) {
				shellCase(t, copyDir, dir, c)
				atomic.AddInt64(&shellRuns, 1)
			}
		})
	}()
	run(cases, func() func(tamperCase) {
		return func(c tamperCase) {
			fsys := maps.Clone(base)
			for name, content := range c.changes {
				if content == nil {
					delete(fsys, name)
				} else {
					fsys[name] = &fstest.MapFile{Data: content, Mode: 0o644}
				}
			}
			checkDetected(t, c, verify(fsys, Options{}))
			atomic.AddInt64(&goRuns, 1)
		}
	})
	shellWG.Wait()
	return goRuns, shellRuns
}

// checkDetected checks what Verify says of a case.
func checkDetected(t *testing.T, c tamperCase, r Report) {
	switch {
	case r.OK:
		t.Errorf("%s: not detected", c.name)
	case r.FirstBad != c.want:
		t.Errorf("%s: Verify names event %d (%s), want %d", c.name, r.FirstBad, r.Problem, c.want)
	case c.file != "" && !strings.Contains(r.Problem, c.file):
		t.Errorf("%s: the problem %q does not name %s", c.name, r.Problem, c.file)
	case c.name == "checkpoint removed" && r.Problem != NoSeal:
		t.Errorf("%s: problem %q, want %q", c.name, r.Problem, NoSeal)
	}
}

// shellCase applies a case to the folder dir on disk, checks Verify and the script agree, and
// restores the files from pristine.
func shellCase(t *testing.T, dir, pristine string, c tamperCase) {
	for name, content := range c.changes {
		p := filepath.Join(dir, filepath.FromSlash(name))
		var err error
		if content == nil {
			err = os.Remove(p)
		} else {
			err = os.WriteFile(p, content, 0o644)
		}
		if err != nil {
			t.Error(err)
			return
		}
	}
	defer func() {
		for name := range c.changes {
			orig, err := os.ReadFile(filepath.Join(pristine, filepath.FromSlash(name)))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), orig, 0o644)
			}
			if err != nil {
				t.Error(err)
			}
		}
	}()
	r := Verify(dir)
	checkDetected(t, c, r)
	s := runShell(t, dir)
	checkAgree(t, c.name, r, s)
	if verdict := s.lines[len(s.lines)-1]; c.file != "" && !strings.Contains(verdict, c.file) {
		t.Errorf("%s: the script's verdict %q does not name %s", c.name, verdict, c.file)
	}
}
