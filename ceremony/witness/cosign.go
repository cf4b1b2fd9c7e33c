package witness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"golang.org/x/crypto/ssh"
)

// Verified returns the report of the ceremony folder dir when it verifies in full, and an
// error naming its first problem otherwise: nobody cosigns a folder that fails.
func Verified(dir string) (transcript.Report, error) {
	r := transcript.Verify(dir)
	if !r.OK {
		return r, fmt.Errorf("%s does not verify, so it cannot be cosigned: %s\nhint: run keyceremony verify %s and compare the folder with the paper log; do not cosign it", dir, r.Problem, dir)
	}
	return r, nil
}

// ErrAlreadyCosigned is returned when the witness has already cosigned the checkpoint; nothing
// is written.
var ErrAlreadyCosigned = errors.New("already cosigned by this witness")

// Cosign adds k's cosignature, made at t, to the checkpoint of the ceremony folder dir. The
// folder is verified again and its checkpoint text must be confirmed, the one the witness was
// shown; the new checkpoint is written to a temporary file in dir and renamed over the old one
// only if the old one did not change meanwhile (another witness cosigning at the same moment
// makes this one fail, and nothing is lost: run it again).
func Cosign(dir, confirmed string, k *Key, t time.Time) error {
	r, err := Verified(dir)
	if err != nil {
		return err
	}
	if r.Checkpoint != confirmed {
		return fmt.Errorf("the checkpoint in %s changed after it was shown\nhint: run keyceremony cosign again and compare it with the paper log", dir)
	}
	path := filepath.Join(dir, transcript.CheckpointFile)
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, err)
	}
	if !bytes.HasPrefix(old, []byte(confirmed+"\n")) {
		return fmt.Errorf("%s changed after it was verified\nhint: run keyceremony cosign again", path)
	}
	v := k.Verifier()
	for _, cs := range r.Cosignatures {
		if cs.Name == v.Name && cs.KeyID == v.KeyID {
			if v.verify(r.Checkpoint, cs.Timestamp, cs.Signature) {
				return ErrAlreadyCosigned
			}
			return fmt.Errorf("the checkpoint holds a cosignature by %s with this key's ID that does not verify\nhint: the folder was tampered with; do not cosign it, report it", v.Name)
		}
		if cs.Name == v.Name {
			return fmt.Errorf("the checkpoint holds a cosignature named %s by another key\nhint: two witnesses must not share a name; make a key with another name", v.Name)
		}
	}
	return replace(path, old, append(bytes.Clone(old), k.sign(r.Checkpoint, t)...))
}

// CosignSSH writes the SSH signature by signer of the checkpoint text confirmed, which the
// ceremony folder dir must still verify with, as dir/checkpoint.sshsig-NAME, write-once. It
// returns [ErrAlreadyCosigned] when that file holds a valid signature by the same key.
func CosignSSH(dir, confirmed, name string, signer ssh.Signer) error {
	if !sshName(name) {
		return fmt.Errorf("%q cannot name an SSH witness\nhint: use letters, digits and \"@._-\" only, at most 64", name)
	}
	r, err := Verified(dir)
	if err != nil {
		return err
	}
	if r.Checkpoint != confirmed {
		return fmt.Errorf("the checkpoint in %s changed after it was shown\nhint: run keyceremony cosign again and compare it with the paper log", dir)
	}
	path := filepath.Join(dir, transcript.SSHSignaturePrefix+name)
	if have, err := os.ReadFile(path); err == nil {
		if verifySSH(have, signer.PublicKey(), r.Checkpoint) == nil {
			return ErrAlreadyCosigned
		}
		return fmt.Errorf("%s exists and is not this key's signature of the checkpoint\nhint: two witnesses must not share a name; nothing was changed", path)
	}
	sig, err := SignSSH(signer, r.Checkpoint)
	if err != nil {
		return err
	}
	if err := verifySSH(sig, signer.PublicKey(), r.Checkpoint); err != nil {
		return fmt.Errorf("the SSH key's signature %v", err)
	}
	return atomicfile.WriteOnce(path, sig, 0o644)
}

// beforeRename lets a test act between the temporary checkpoint's write and its rename.
var beforeRename = func() {}

// tempPrefix names the temporary checkpoint of a cosign in the ceremony folder.
const tempPrefix = ".tmp-cosign-"

// replace writes data to a temporary file beside path, syncs it, checks that path still holds
// old, and renames the temporary file over path.
func replace(path string, old, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %v\nhint: nothing was changed", dir, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = atomicfile.Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %v\nhint: check free disk space; nothing was changed", tmp, err)
	}
	beforeRename()
	if now, err := os.ReadFile(path); err != nil || !bytes.Equal(now, old) {
		return fmt.Errorf("%s changed while the cosignature was made\nhint: run keyceremony cosign again", path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot replace %s: %v\nhint: nothing was changed", path, err)
	}
	return atomicfile.SyncDir(dir)
}

// RemoveLeftovers removes the temporary files of a cosign that was cut short in dir (they are
// not part of the record, and verify refuses them) and returns their names.
func RemoveLeftovers(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return removed, err
			}
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}
