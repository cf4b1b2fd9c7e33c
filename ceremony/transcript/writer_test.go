package transcript

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/internal/mediatest"
)

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read of a folder without transcript: %v, want it to wrap fs.ErrNotExist", err)
	}
	w, err := Create(dir, newSigner(t, AlgorithmEd25519), Begin{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	name := filepath.Join(dir, TranscriptFile)
	good, _ := os.ReadFile(name)
	os.WriteFile(name, append(good, `{"seq":1,"ti`...), 0o644)
	_, err = Read(dir)
	want := "event 1: the line is incomplete (the file was cut short)\nhint: the last write was cut short; keep a copy of transcript.jsonl, then cut it back to its complete lines with: truncate -s " + strconv.Itoa(len(good)) + " " + name
	if err == nil || err.Error() != want {
		t.Errorf("Read of a torn transcript:\n%v\nwant\n%s", err, want)
	}
}

// TestSealCutShort resumes a seal interrupted after the end event: with no checkpoint, or with
// the empty name a file system without rename-without-replace reserves; a real one is refused.
func TestSealCutShort(t *testing.T) {
	signer := newSigner(t, AlgorithmECDSAP256)
	for _, left := range []string{"none", "empty"} {
		dir := t.TempDir()
		w, err := Create(dir, signer, Begin{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if _, err := Open(dir, signer); err == nil || !strings.Contains(err.Error(), "is sealed: the ceremony is over") {
			t.Fatalf("Open of a sealed transcript: %v", err)
		}
		os.Remove(filepath.Join(dir, CheckpointFile))
		if left == "empty" {
			os.WriteFile(filepath.Join(dir, CheckpointFile), nil, 0o600)
		}
		if r := Verify(dir); r.OK {
			t.Fatalf("%s: verifies without a seal", left)
		}
		w, err = Open(dir, signer)
		if err != nil {
			t.Fatalf("%s: %v", left, err)
		}
		if _, err := w.Append(Entry{Step: "late"}); err == nil {
			t.Errorf("%s: an event was appended after the end event", left)
		}
		if err := w.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
			t.Fatalf("%s: %v", left, err)
		}
		w.Close()
		if r := Verify(dir); !r.OK || r.Events != 2 {
			t.Errorf("%s: after the seal is finished: %+v", left, r)
		}
	}
}

// TestDiskFull fills a small tmpfs so that an event cannot be written whole: the writer cuts the
// partial line off, so once space is freed the transcript resumes with no hand repair.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	mediatest.Tmpfs(t, dir, 64<<10)
	signer := newSigner(t, AlgorithmEd25519)
	w, err := Create(dir, signer, Begin{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	filler := filepath.Join(dir, "filler")
	os.WriteFile(filler, make([]byte, 64<<10), 0o600) // fails part way: the disk is full
	big := strings.Repeat("x", 8<<10)
	var werr error
	var before int64
	for i := 0; werr == nil && i < 20; i++ {
		fi, _ := os.Stat(filepath.Join(dir, TranscriptFile))
		before = fi.Size()
		_, werr = w.Append(Entry{Step: "step", Facts: map[string]string{"pad": big}})
	}
	if werr == nil || !strings.Contains(werr.Error(), "the event was not written") {
		t.Fatalf("append on a full disk: %v", werr)
	}
	if fi, _ := os.Stat(filepath.Join(dir, TranscriptFile)); fi.Size() != before {
		t.Errorf("after the failed write the transcript has %d bytes, want the %d of its complete lines", fi.Size(), before)
	}
	if _, err := w.Append(Entry{Step: "after"}); err == nil {
		t.Error("the writer went on after a failed write")
	}
	os.Remove(filler)
	if _, err := Read(dir); err != nil {
		t.Fatalf("after the failed write: %v", err)
	}
	w2, err := Open(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if err := w2.Seal(testOrigin, Actor{Role: "witness", Name: "Wendy"}); err != nil {
		t.Fatal(err)
	}
	if r := Verify(dir); !r.OK {
		t.Errorf("after space was freed: %+v", r)
	}
}
