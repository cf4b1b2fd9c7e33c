package upload

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/wrap"
)

// Record says where the signed record of an import package is, and which signing key it must be
// signed by. A package's manifest is not signed: only the wrap event of the ceremony's
// transcript is, so that event, not the manifest, says what the package holds.
type Record struct {
	// Dir is the ceremony folder. Empty means the one the package sits in, CEREMONY/targets/NAME
	// (CEREMONY/targets/LABEL/NAME in a ceremony of several keys).
	Dir string
	// Fingerprint is the ceremony signing key fingerprint the witnesses wrote down (hex, at least
	// 32 digits, or its read-back form); empty when not checked.
	Fingerprint string
}

// verifyRecord finds the ceremony folder of the package in dir and verifies its transcript, and
// its signing key when the witnesses' fingerprint is given. It returns the ceremony folder.
func verifyRecord(dir string, rec Record) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	ceremony := rec.Dir
	if ceremony == "" {
		// CEREMONY/targets/NAME, or CEREMONY/targets/LABEL/NAME in a ceremony of several keys.
		switch parent := filepath.Dir(abs); {
		case filepath.Base(parent) == "targets":
			ceremony = filepath.Dir(parent)
		case filepath.Base(filepath.Dir(parent)) == "targets":
			ceremony = filepath.Dir(filepath.Dir(parent))
		default:
			return "", fmt.Errorf("%s is not inside its ceremony folder (CEREMONY/targets/NAME, or CEREMONY/targets/LABEL/NAME), so its signed record cannot be checked\nhint: give the ceremony folder: keyceremony upload --transcript CEREMONY %s", dir, dir)
		}
	}
	var want string
	if rec.Fingerprint != "" {
		if want, err = readback.Digits(rec.Fingerprint); err != nil {
			return "", fmt.Errorf("--fingerprint %v\nhint: give the ceremony signing key fingerprint the witnesses wrote down", err)
		}
	}
	r := transcript.Verify(ceremony)
	if !r.OK {
		return "", unsent(fmt.Sprintf("the ceremony's record in %s does not verify: %s", ceremony, r.Problem), "check it with keyceremony verify "+ceremony+"; a package whose record does not verify must not be uploaded")
	}
	if want != "" && !strings.HasPrefix(strings.TrimPrefix(r.Fingerprint, "SHA256:"), want) {
		return "", unsent(fmt.Sprintf("the record in %s is signed by %s, not by the key the witnesses wrote down (%s)", ceremony, r.Fingerprint, rec.Fingerprint), "the whole folder may have been re-signed; do not upload it")
	}
	return ceremony, nil
}

// signedFiles returns the files of a target's package as the signed wrap event of the verified
// record names them, with their SHA-256.
func signedFiles(ceremony, target string) (map[string]string, error) {
	events, err := transcript.Read(ceremony)
	if err != nil {
		return nil, err
	}
	rel := path.Join("targets", target)
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.Kind != transcript.KindStep || !strings.HasPrefix(e.Step, "wrap:") {
			continue
		}
		files := map[string]string{}
		for _, f := range e.Files {
			if name, ok := strings.CutPrefix(f.Path, rel+"/"); ok {
				files[name] = f.SHA256
			}
		}
		if files[wrap.ManifestName] != "" {
			return files, nil
		}
	}
	return nil, unsent(fmt.Sprintf("the record in %s has no wrap event for the package %s", ceremony, rel), "give the package and the ceremony folder that made it")
}

// checkSigned compares every file of the package, its manifest first, with the SHA-256 the
// signed wrap event recorded.
func checkSigned(dir string, m *wrap.Manifest, signed map[string]string) error {
	names := []string{wrap.ManifestName}
	for name := range m.Files {
		names = append(names, name)
	}
	for _, name := range names {
		sum, err := wrap.FileSHA256(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		switch want, ok := signed[name]; {
		case !ok:
			return unsent(fmt.Sprintf("%s in %s is not named by the signed wrap event", name, dir), "the package was altered; take it from the ceremony's output again")
		case sum != want:
			return unsent(fmt.Sprintf("%s in %s is not the file the ceremony signed (its SHA-256 differs from the wrap event's)", name, dir), "the package was altered; take it from the ceremony's output again")
		}
	}
	return nil
}

// unsent is a refusal of the upload before anything was sent to the cloud.
func unsent(what, hint string) error {
	return &errs.Error{What: what, Hint: hint, Changed: "nothing was sent"}
}
