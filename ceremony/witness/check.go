package witness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
)

// List is the witnesses an auditor trusts: Ed25519 verifier keys and SSH allowed signers.
type List struct {
	Keys []Verifier
	SSH  []SSHWitness
}

// Add reads one witness: a verifier key or an allowed-signers line. Two witnesses with the same
// name are refused, since a name is what the count is kept by.
func (l *List) Add(s string) error {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, " \t") {
		w, err := parseAllowedSigner(s)
		if err == nil && l.has(w.Name) {
			err = listedTwice(w.Name)
		}
		if err == nil {
			l.SSH = append(l.SSH, w)
		}
		return err
	}
	v, err := ParseVerifier(s)
	if err == nil && l.has(v.Name) {
		err = listedTwice(v.Name)
	}
	if err == nil {
		l.Keys = append(l.Keys, v)
	}
	return err
}

func listedTwice(name string) error {
	return fmt.Errorf("%s is listed twice\nhint: list each witness once", name)
}

func (l *List) has(name string) bool {
	for _, v := range l.Keys {
		if v.Name == name {
			return true
		}
	}
	for _, w := range l.SSH {
		if w.Name == name {
			return true
		}
	}
	return false
}

// Len is the number of witnesses listed.
func (l *List) Len() int { return len(l.Keys) + len(l.SSH) }

// ReadList reads a witness list: one witness a line, blank lines and lines starting with '#'
// skipped. Errors name the line.
func ReadList(r io.Reader, name string, l *List) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := l.Add(line); err != nil {
			return fmt.Errorf("%s:%d: %s", name, n, err)
		}
	}
	return sc.Err()
}

// Outcome is what [Check] found.
type Outcome struct {
	Valid  []string // the witnesses whose cosignature counts, in the order found
	Lines  []string // one line per cosignature, and the verdict
	OK     bool     // at least quorum witnesses cosigned
	Reason string   // why not, when !OK
}

// Check counts the cosignatures of the verified ceremony folder dir (r is its report, r.OK)
// by the witnesses in l, and passes when at least quorum distinct listed witnesses cosigned
// exactly the checkpoint r verified. Unknown, repeated and invalid cosignatures are named in
// the lines and not counted.
func Check(dir string, r transcript.Report, l *List, quorum int) Outcome {
	var o Outcome
	counted := map[string]bool{}
	count := func(name, how string, t time.Time) {
		if counted[name] {
			o.Lines = append(o.Lines, fmt.Sprintf("duplicate cosignature by %s: counted once", name))
			return
		}
		counted[name] = true
		o.Valid = append(o.Valid, name)
		when := ""
		if !t.IsZero() {
			when = " at " + t.Format(time.RFC3339)
		}
		o.Lines = append(o.Lines, fmt.Sprintf("cosigned by %s%s (%s)", name, when, how))
	}
	for _, cs := range r.Cosignatures {
		v, ok := l.key(cs.Name, cs.KeyID)
		switch {
		case !ok:
			o.Lines = append(o.Lines, fmt.Sprintf("unknown cosignature by %s (key ID %08x): not a listed witness key, not counted", cs.Name, cs.KeyID))
		case !v.verify(r.Checkpoint, cs.Timestamp, cs.Signature):
			o.Lines = append(o.Lines, fmt.Sprintf("invalid cosignature by %s: it does not verify over this checkpoint, not counted", cs.Name))
		default:
			count(cs.Name, "Ed25519 cosignature, key ID "+fmt.Sprintf("%08x", cs.KeyID), cs.Timestamp)
		}
	}
	for _, p := range r.SSHSignatures {
		name := strings.TrimPrefix(p, transcript.SSHSignaturePrefix)
		w, ok := l.ssh(name)
		if !ok {
			o.Lines = append(o.Lines, fmt.Sprintf("unknown SSH signature %s: %s is not a listed witness, not counted", p, name))
			continue
		}
		data, err := readSmall(filepath.Join(dir, p))
		if err == nil {
			err = verifySSH(data, w.Key, r.Checkpoint)
		}
		if err != nil {
			o.Lines = append(o.Lines, fmt.Sprintf("invalid SSH signature %s by %s: %v, not counted", p, name, err))
			continue
		}
		count(name, "SSH signature, "+w.Key.Type(), time.Time{})
	}
	if len(o.Valid) >= quorum {
		o.OK = true
		o.Lines = append(o.Lines, fmt.Sprintf("witnesses: %d of %d listed cosigned, quorum %d met", len(o.Valid), l.Len(), quorum))
	} else {
		o.Reason = fmt.Sprintf("witness quorum not met: %d of the %d listed witnesses cosigned this checkpoint, %d required", len(o.Valid), l.Len(), quorum)
		o.Lines = append(o.Lines, "FAIL: "+o.Reason)
	}
	return o
}

func (l *List) key(name string, id uint32) (Verifier, bool) {
	for _, v := range l.Keys {
		if v.Name == name && v.KeyID == id {
			return v, true
		}
	}
	return Verifier{}, false
}

func (l *List) ssh(name string) (SSHWitness, bool) {
	for _, w := range l.SSH {
		if w.Name == name {
			return w, true
		}
	}
	return SSHWitness{}, false
}

// maxSSHSignature bounds the size of an SSH signature file read: an RSA-16384 one is under 8 KiB.
const maxSSHSignature = 64 << 10

// readSmall reads a regular file (not through a symlink) of at most maxSSHSignature bytes.
func readSmall(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot be read")
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	var b bytes.Buffer
	if n, _ := b.ReadFrom(io.LimitReader(f, maxSSHSignature+1)); n > maxSSHSignature {
		return nil, fmt.Errorf("larger than %d KiB", maxSSHSignature>>10)
	}
	return b.Bytes(), nil
}
