//go:build unix

package transcript

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// frozenCopy copies the frozen v1 folder into a new folder and returns it.
func frozenCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(frozenV1)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sigLine returns a signature line of the checkpoint: name, then keyID and payload in base64.
func sigLine(name string, keyID, payload []byte) string {
	return "\u2014 " + name + " " + base64.StdEncoding.EncodeToString(append(bytes.Clone(keyID), payload...)) + "\n"
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// verifyInTime runs VerifyWith and fails the test if it takes more than 20 seconds (a verifier
// that opened a named pipe or /dev/zero would never return).
func verifyInTime(t *testing.T, dir string, o Options) Report {
	t.Helper()
	done := make(chan Report, 1)
	go func() { done <- VerifyWith(dir, o) }()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("Verify did not return within 20 s on %s", dir)
		return Report{}
	}
}

// TestStrictFolder plants in a real ceremony folder what issue 12 found verify accepting, and
// files it must accept but not vouch for, and checks that both verifiers say the same, naming
// the path.
func TestStrictFolder(t *testing.T) {
	const origin = "keyceremony/test"
	cp, err := os.ReadFile(filepath.Join(frozenV1, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	text, sigs, _ := strings.Cut(string(cp), "\n\n")
	text += "\n\n"
	ceremonySig, _ := base64.StdEncoding.DecodeString(strings.Fields(sigs)[2])
	id := ceremonySig[:4]
	otherID := []byte{id[0] ^ 0xff, id[1], id[2], id[3]}
	cosig := sigLine("witness.example/w1", otherID, random(72))
	receipt := []byte(`{"format":"keyceremony-upload-receipt/1","time":"2026-11-30T10:00:00Z","kms":{"key_state":"Enabled"}}` + "\n")
	mkfifo := func(p string) {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkzero := func(p string) { // a character device 1,5, as /dev/zero (the tests run as root)
		if err := syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|5); err != nil {
			t.Fatalf("mknod %s: %v (the strictness tests need root to make a device node)", p, err)
		}
	}
	const pkg = "targets/aws/EncryptedKeyMaterial.bin"
	for _, c := range []struct {
		name    string
		plant   func(dir string)
		opts    Options
		problem string   // "" when the folder must verify
		lines   []string // lines the report must hold
	}{
		{name: "an extra package",
			plant:   func(dir string) { writeFile(t, dir, "targets/evil/EncryptedKeyMaterial.bin", "x") },
			problem: "unexpected file targets/evil/EncryptedKeyMaterial.bin: not named by any signed event"},
		{name: "an extra share set",
			plant:   func(dir string) { writeFile(t, dir, "backup-ZZZZZZZZ/backup-manifest.json", "{}") },
			problem: "unexpected file backup-ZZZZZZZZ/backup-manifest.json: not named by any signed event"},
		{name: "an extra empty folder",
			plant:   func(dir string) { os.MkdirAll(filepath.Join(dir, "targets/evil"), 0o755) },
			problem: "unexpected folder targets/evil: no signed event names a file in it"},
		{name: "an extra file at the top",
			plant:   func(dir string) { writeFile(t, dir, "plan.source", "/tmp/plan.yaml\n") },
			problem: "unexpected file plan.source: not named by any signed event"},
		{name: "a hidden file",
			plant:   func(dir string) { writeFile(t, dir, "targets/aws/.DS_Store", "x") },
			problem: "unexpected file targets/aws/.DS_Store: not named by any signed event"},
		{name: "a forged receipt beside a signed package",
			plant: func(dir string) { writeFile(t, dir, "targets/aws/upload-receipt.json", string(receipt)) },
			lines: []string{"unverified receipt: targets/aws/upload-receipt.json"}},
		{name: "a receipt beside no package",
			plant:   func(dir string) { writeFile(t, dir, "targets/evil/upload-receipt.json", string(receipt)) },
			problem: "unexpected file targets/evil/upload-receipt.json: not named by any signed event"},
		{name: "a receipt not in a package folder",
			plant:   func(dir string) { writeFile(t, dir, "upload-receipt.json", string(receipt)) },
			problem: "unexpected file upload-receipt.json: not named by any signed event"},
		{name: "a second signature with the ceremony key's name and key ID",
			plant: func(dir string) {
				writeFile(t, dir, CheckpointFile, text+sigs+sigLine(origin, id, random(64)))
			},
			problem: "checkpoint: more than one signature by the ceremony key"},
		{name: "a forged signature with the ceremony key's name and key ID first",
			plant: func(dir string) {
				writeFile(t, dir, CheckpointFile, text+sigLine(origin, id, random(64))+sigs)
			},
			problem: "checkpoint: the signature does not verify"},
		{name: "the ceremony signature twice",
			plant:   func(dir string) { writeFile(t, dir, CheckpointFile, text+sigs+sigs) },
			problem: "checkpoint: more than one signature by the ceremony key"},
		{name: "a signature named like the ceremony key by another key",
			plant: func(dir string) {
				writeFile(t, dir, CheckpointFile, text+sigs+sigLine(origin, otherID, random(72)))
			},
			problem: "checkpoint: a signature named keyceremony/test is not by the ceremony key"},
		{name: "a cosignature carrying the ceremony key's ID",
			plant: func(dir string) {
				writeFile(t, dir, CheckpointFile, text+sigs+sigLine("witness.example/w1", id, random(72)))
			},
			problem: "checkpoint: a signature with the ceremony key's ID is named witness.example/w1, not keyceremony/test"},
		{name: "a witness cosignature",
			plant: func(dir string) { writeFile(t, dir, CheckpointFile, text+sigs+cosig) },
			lines: []string{"cosignature by witness.example/w1 (key ID " + hex.EncodeToString(otherID) + "): not checked"}},
		{name: "another signature that is no cosignature",
			plant: func(dir string) {
				writeFile(t, dir, CheckpointFile, text+sigs+sigLine("witness.example/w1", otherID, random(64)))
			},
			problem: "checkpoint: the signature by witness.example/w1 is neither the ceremony key's nor a witness cosignature"},
		{name: "a named file replaced by a named pipe",
			plant: func(dir string) {
				os.Remove(filepath.Join(dir, pkg))
				mkfifo(filepath.Join(dir, pkg))
			},
			problem: "event 12: file targets/aws/EncryptedKeyMaterial.bin is a named pipe, not a regular file"},
		{name: "a named pipe nobody names",
			plant:   func(dir string) { mkfifo(filepath.Join(dir, "targets/aws/pipe")) },
			problem: "targets/aws/pipe is a named pipe: a ceremony folder holds only regular files and folders"},
		{name: "a named file replaced by a device like /dev/zero",
			plant: func(dir string) {
				os.Remove(filepath.Join(dir, pkg))
				mkzero(filepath.Join(dir, pkg))
			},
			problem: "event 12: file targets/aws/EncryptedKeyMaterial.bin is a device, not a regular file"},
		{name: "a device nobody names",
			plant:   func(dir string) { mkzero(filepath.Join(dir, "targets/zero")) },
			problem: "targets/zero is a device: a ceremony folder holds only regular files and folders"},
		{name: "a named file replaced by a symlink to /dev/zero",
			plant: func(dir string) {
				os.Remove(filepath.Join(dir, pkg))
				os.Symlink("/dev/zero", filepath.Join(dir, pkg))
			},
			problem: "event 12: file targets/aws/EncryptedKeyMaterial.bin is a symlink, not a regular file"},
		{name: "a named file replaced by a symlink to a copy",
			plant: func(dir string) {
				os.Rename(filepath.Join(dir, pkg), filepath.Join(dir, "copy.bin"))
				os.Symlink("../../copy.bin", filepath.Join(dir, pkg))
			},
			problem: "event 12: file targets/aws/EncryptedKeyMaterial.bin is a symlink, not a regular file"},
		{name: "a folder on a named path replaced by a symlink",
			plant: func(dir string) {
				os.Rename(filepath.Join(dir, "targets"), filepath.Join(dir, "elsewhere"))
				os.Symlink("elsewhere", filepath.Join(dir, "targets"))
			},
			problem: "event 12: file targets/aws/manifest.json: targets is a symlink, not a folder"},
		{name: "a symlink to /dev/zero nobody names",
			plant:   func(dir string) { os.Symlink("/dev/zero", filepath.Join(dir, "zero")) },
			problem: "zero is a symlink: a ceremony folder holds only regular files and folders"},
		{name: "the transcript as a symlink to /dev/zero",
			plant: func(dir string) {
				os.Remove(filepath.Join(dir, TranscriptFile))
				os.Symlink("/dev/zero", filepath.Join(dir, TranscriptFile))
			},
			problem: "transcript.jsonl is a symlink, not a regular file"},
		{name: "transcript.pub as a named pipe",
			plant: func(dir string) {
				os.Remove(filepath.Join(dir, PublicKeyFile))
				mkfifo(filepath.Join(dir, PublicKeyFile))
			},
			problem: "event 0: transcript.pub is a named pipe, not a regular file"},
		{name: "the checkpoint as a named pipe",
			plant: func(dir string) {
				os.Remove(filepath.Join(dir, CheckpointFile))
				mkfifo(filepath.Join(dir, CheckpointFile))
			},
			problem: "checkpoint is a named pipe, not a regular file"},
		{name: "a named file larger than the bound",
			plant: func(dir string) {
				if err := os.Truncate(filepath.Join(dir, pkg), MaxFileSize+1); err != nil {
					t.Fatal(err)
				}
			},
			problem: "event 12: file targets/aws/EncryptedKeyMaterial.bin is larger than 64 MiB"},
		{name: "extras allowed as warnings",
			plant: func(dir string) {
				writeFile(t, dir, "targets/evil/EncryptedKeyMaterial.bin", "x")
				os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
			},
			opts: Options{AllowExtra: true},
			lines: []string{"warning: not named by any signed event: targets/evil/EncryptedKeyMaterial.bin",
				"warning: not named by any signed event: empty", "warning: not named by any signed event: targets/evil"}},
		{name: "a named pipe even with extras allowed",
			plant:   func(dir string) { mkfifo(filepath.Join(dir, "pipe")) },
			opts:    Options{AllowExtra: true},
			problem: "pipe is a named pipe: a ceremony folder holds only regular files and folders"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := frozenCopy(t)
			c.plant(dir)
			r := verifyInTime(t, dir, c.opts)
			switch {
			case c.problem == "" && !r.OK:
				t.Errorf("Verify: %s, want OK", r.Problem)
			case c.problem != "" && r.Problem != c.problem:
				t.Errorf("Verify: %q, want %q", r.Problem, c.problem)
			}
			for _, l := range c.lines {
				if !slices.Contains(r.Lines, l) {
					t.Errorf("the report lacks %q:\n%s", l, strings.Join(r.Lines, "\n"))
				}
			}
			var flags []string
			if c.opts.AllowExtra {
				flags = []string{"--allow-extra"}
			}
			s := runShell(t, dir, flags...)
			checkAgree(t, c.name, r, s)
			if verdict := s.lines[len(s.lines)-1]; c.problem != "" && verdict != "FAIL: "+c.problem {
				t.Errorf("the script: %q, want %q", verdict, "FAIL: "+c.problem)
			}
		})
	}
}

// TestCheckpointSignatureLines: for both signing algorithms (the key ID of an ECDSA key does not
// depend on the name), the checkpoint holds exactly one signature by the ceremony key, and only
// cosignatures besides; both verifiers say so alike.
func TestCheckpointSignatureLines(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			dir, _ := ceremony(t, newSigner(t, alg))
			cp, err := os.ReadFile(filepath.Join(dir, CheckpointFile))
			if err != nil {
				t.Fatal(err)
			}
			text, sigs, _ := strings.Cut(string(cp), "\n\n")
			text += "\n\n"
			ceremonySig, _ := base64.StdEncoding.DecodeString(strings.Fields(sigs)[2])
			id := ceremonySig[:4]
			otherID := []byte{id[0] ^ 0xff, id[1], id[2], id[3]}
			for _, c := range []struct {
				name, checkpoint, problem string
			}{
				{"the ceremony signature twice", text + sigs + sigs, "checkpoint: more than one signature by the ceremony key"},
				{"a forged second one", text + sigs + sigLine(testOrigin, id, random(len(ceremonySig)-4)), "checkpoint: more than one signature by the ceremony key"},
				{"a forged one first", text + sigLine(testOrigin, id, random(len(ceremonySig)-4)) + sigs, "checkpoint: the signature does not verify"},
				{"the ceremony key's name, another key", text + sigs + sigLine(testOrigin, otherID, random(72)), "checkpoint: a signature named " + testOrigin + " is not by the ceremony key"},
				{"the ceremony key's ID, another name", text + sigs + sigLine("witness.example/w1", id, random(72)), "checkpoint: a signature with the ceremony key's ID is named witness.example/w1, not " + testOrigin},
				{"a signature that is no cosignature", text + sigs + sigLine("witness.example/w1", otherID, random(64)), "checkpoint: the signature by witness.example/w1 is neither the ceremony key's nor a witness cosignature"},
				{"a name with a no-break space", text + sigs + sigLine("witness\u00a0w1", otherID, random(72)), "checkpoint: malformed"},
				{"two cosignatures", text + sigLine("w1.example", otherID, random(72)) + sigs + sigLine("w2.example", otherID, random(72)), ""},
			} {
				folder := t.TempDir()
				if err := os.CopyFS(folder, os.DirFS(dir)); err != nil {
					t.Fatal(err)
				}
				writeFile(t, folder, CheckpointFile, c.checkpoint)
				r := Verify(folder)
				if r.Problem != c.problem {
					t.Errorf("%s: Verify: %q, want %q", c.name, r.Problem, c.problem)
				}
				if c.problem == "" && len(r.Cosignatures) != 2 {
					t.Errorf("%s: %d cosignatures listed, want 2", c.name, len(r.Cosignatures))
				}
				checkAgree(t, c.name, r, runShell(t, folder))
			}
		})
	}
}
