package transcript

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/keyceremony/keyceremony/internal/atomicfile"
)

// Begin describes the begin event that [Create] writes.
type Begin struct {
	Step       string   // step id; "begin" when empty
	Actor      Actor    // who starts the ceremony
	PlanSHA256 string   // hex SHA-256 of the plan file
	Facts      any      // more facts, recorded as BeginFacts.Ceremony; may be nil
	Files      []string // artefacts, relative to the ceremony folder (the plan copy, say)
}

// Entry is an event for [Writer.Append].
type Entry struct {
	Step  string   // step id, required
	Kind  Kind     // KindStep (the default when empty) or KindException
	Actor Actor    // who acted
	Facts any      // marshalled with encoding/json to a JSON object; nil for {}
	Files []string // artefacts, relative to the ceremony folder; hashed now
}

// Writer appends signed events to a transcript and seals it. Its methods are safe for
// concurrent use; events are written in the order the calls take the lock.
type Writer struct {
	mu     sync.Mutex
	dir    string
	signer crypto.Signer
	key    *key
	f      *os.File
	next   int    // seq of the next event
	head   []byte // SHA-256 of the last line
	size   int64  // bytes of complete lines in the file
	ended  string // origin of the end event, once written
	sealed bool
	err    error // set when a write may have left a partial line
}

// Create starts the transcript of a new ceremony in dir, which must exist and hold no
// transcript: it signs the begin event, then writes dir/transcript.pub with the public key of
// signer and dir/transcript.jsonl with the begin event. The signer is Ed25519, ECDSA P-256 or
// RSA-3072 (an hsm.Signer in a ceremony; another RSA signer signs PSS unless it has a
// SignatureAlgorithm method that says otherwise). Should Create fail after writing transcript.pub, the folder
// holds transcript.pub without transcript.jsonl: nothing was recorded, and the caller may remove
// transcript.pub and start again.
func Create(dir string, signer crypto.Signer, begin Begin) (*Writer, error) {
	alg := "" // an RSA key's signature algorithm, from a signer that names it (hsm.Signer)
	if a, ok := signer.(interface{ SignatureAlgorithm() string }); ok {
		alg = a.SignatureAlgorithm()
	} else if _, ok := signer.Public().(*rsa.PublicKey); ok {
		alg = AlgorithmRSAPSS
	}
	k, err := newKey(signer.Public(), alg)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder\nhint: create the ceremony folder first", dir)
	}
	for _, name := range []string{TranscriptFile, PublicKeyFile, CheckpointFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s already exists\nhint: resume that ceremony, or choose a new folder", filepath.Join(dir, name))
		}
	}
	if begin.Step == "" {
		begin.Step = "begin"
	}
	facts := BeginFacts{
		Algorithm:   k.alg,
		PublicKey:   k.der,
		Fingerprint: k.fingerprint(),
		PlanSHA256:  begin.PlanSHA256,
	}
	if begin.Facts != nil {
		if facts.Ceremony, err = marshalFacts(begin.Facts); err != nil {
			return nil, err
		}
	}
	w := &Writer{dir: dir, signer: signer, key: k}
	_, line, err := w.event(begin.Step, KindBegin, begin.Actor, facts, begin.Files)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteOnce(filepath.Join(dir, PublicKeyFile), k.pem(), 0o644); err != nil {
		return nil, err
	}
	// The first line is written whole or not at all, so a transcript file always holds the
	// begin event; from there on lines are appended.
	line = append(line, '\n')
	if err := atomicfile.WriteOnce(filepath.Join(dir, TranscriptFile), line, 0o644); err != nil {
		return nil, err
	}
	if w.f, err = os.OpenFile(filepath.Join(dir, TranscriptFile), os.O_WRONLY|os.O_APPEND, 0); err != nil {
		return nil, err
	}
	w.next, w.head, w.size = 1, lineSum(line[:len(line)-1]), int64(len(line))
	return w, nil
}

// Open resumes the transcript in dir after an interruption. It verifies the whole chain first
// (signatures, hashes, files) and refuses a transcript that does not verify, one that is sealed,
// and a signer whose public key is not the one in transcript.pub. When the end event is already
// written, only [Writer.Seal] remains to be called.
func Open(dir string, signer crypto.Signer) (*Writer, error) {
	if Sealed(dir) {
		return nil, fmt.Errorf("%s is sealed: the ceremony is over\nhint: start a new ceremony in a new folder", dir)
	}
	c := readChain(os.DirFS(dir))
	if c.problem != "" {
		hint := "run keyceremony verify on the folder; a tampered or damaged transcript cannot be resumed"
		if c.torn >= 0 {
			hint = TornHint(dir, c.torn)
		}
		return nil, fmt.Errorf("cannot resume %s: %s\nhint: %s", dir, c.problem, hint)
	}
	if !c.key.equal(signer.Public()) {
		return nil, fmt.Errorf("the signing key is not the one of this ceremony (%s)\nhint: use the signing key the ceremony was started with", c.key.fingerprint())
	}
	f, err := os.OpenFile(filepath.Join(dir, TranscriptFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	last := c.events[len(c.events)-1]
	w := &Writer{dir: dir, signer: signer, key: c.key, f: f, next: len(c.events), head: lineSum(c.lines[len(c.lines)-1])}
	for _, l := range c.lines {
		w.size += int64(len(l)) + 1
	}
	if last.Kind == KindEnd {
		w.ended = c.origin
		// An empty checkpoint is the name reserved by a seal that was cut short on a file
		// system without rename-without-replace (see internal/atomicfile); Seal writes it anew.
		if err := os.Remove(filepath.Join(dir, CheckpointFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

// Sealed reports whether the ceremony folder dir holds a checkpoint, verified or not. An empty
// one is not a seal: see [Open].
func Sealed(dir string) bool {
	fi, err := os.Lstat(filepath.Join(dir, CheckpointFile))
	return err == nil && (!fi.Mode().IsRegular() || fi.Size() > 0)
}

// TornHint tells how to cut a transcript in dir back to its complete lines, the first size
// bytes, after a write was cut short.
func TornHint(dir string, size int64) string {
	return fmt.Sprintf("the last write was cut short; keep a copy of %s, then cut it back to its complete lines with: truncate -s %d %s",
		TranscriptFile, size, filepath.Join(dir, TranscriptFile))
}

// Fingerprint returns the fingerprint of the ceremony signing key, "SHA256:<hex>", for
// witnesses to write down.
func (w *Writer) Fingerprint() string { return w.key.fingerprint() }

// Append signs e, writes it as the next line and syncs the file before it returns. The files
// e names are hashed now, so write and sync them first.
func (w *Writer) Append(e Entry) (Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Kind == "" {
		e.Kind = KindStep
	}
	if e.Kind != KindStep && e.Kind != KindException {
		return Event{}, fmt.Errorf("cannot append an event of kind %q\nhint: Create writes the begin event and Seal the end event", e.Kind)
	}
	if e.Step == "" {
		return Event{}, fmt.Errorf("an event needs a step id")
	}
	return w.append(e.Step, e.Kind, e.Actor, e.Facts, e.Files)
}

func (w *Writer) append(step string, kind Kind, actor Actor, facts any, files []string) (Event, error) {
	e, line, err := w.event(step, kind, actor, facts, files)
	if err != nil {
		return Event{}, err
	}
	return e, w.write(line)
}

// event makes and signs the next event and returns it and its line, without writing it.
func (w *Writer) event(step string, kind Kind, actor Actor, facts any, files []string) (Event, []byte, error) {
	switch {
	case w.err != nil:
		return Event{}, nil, fmt.Errorf("an earlier write failed (%v)\nhint: resume the ceremony with the transcript as it is on disk", w.err)
	case w.sealed:
		return Event{}, nil, fmt.Errorf("the transcript is sealed")
	case w.ended != "":
		return Event{}, nil, fmt.Errorf("the end event is written; only the seal remains")
	}
	raw, err := marshalFacts(facts)
	if err != nil {
		return Event{}, nil, err
	}
	e := Event{
		Seq:   w.next,
		Time:  time.Now().UTC(),
		Step:  step,
		Kind:  kind,
		Actor: actor,
		Facts: raw,
		Files: []File{},
		Prev:  hex.EncodeToString(w.head),
	}
	for _, p := range files {
		p = filepath.ToSlash(p)
		if !validPath(p) {
			return Event{}, nil, fmt.Errorf("file %q is not a path inside the ceremony folder\nhint: name artefacts relative to the ceremony folder", p)
		}
		sum, err := hashRegular(os.DirFS(w.dir), p) // as verify will read it
		if err != nil {
			return Event{}, nil, fmt.Errorf("cannot hash %s: %v\nhint: write and sync an artefact before the event that names it", p, err)
		}
		e.Files = append(e.Files, File{Path: p, SHA256: sum})
	}
	msg, err := e.message()
	if err != nil {
		return Event{}, nil, err
	}
	if e.Sig, err = w.key.sign(w.signer, msg); err != nil {
		return Event{}, nil, err
	}
	line, err := e.encode(true)
	if err != nil {
		return Event{}, nil, err
	}
	return e, line, nil
}

// write appends line and its newline to the transcript and syncs it. A write that fails (a
// full disk) is cut back off, so the file still ends with a complete line.
func (w *Writer) write(line []byte) error {
	_, err := w.f.Write(append(line, '\n'))
	if err == nil {
		err = atomicfile.Sync(w.f)
	}
	if err != nil {
		w.err = err
		if w.f.Truncate(w.size) == nil && atomicfile.Sync(w.f) == nil {
			return fmt.Errorf("the event was not written: %v", err)
		}
		return err
	}
	w.next++
	w.head = lineSum(line)
	w.size += int64(len(line)) + 1
	return nil
}

// Seal ends the ceremony: it writes the end event (unless an interrupted Seal already did),
// then the checkpoint, a signed note over the chain (see the package documentation). origin
// names the ceremony, e.g. "keyceremony/<ceremony id>"; it is also the note's key name. by, the
// end event's actor, is who signs the ceremony off (the witness). After Seal the Writer appends
// nothing more; Close it.
func (w *Writer) Seal(origin string, by Actor) error {
	if err := checkOrigin(origin); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sealed {
		return fmt.Errorf("the transcript is sealed")
	}
	if w.ended == "" {
		if _, err := w.append("end", KindEnd, by, endFacts{Origin: origin}, nil); err != nil {
			return err
		}
		w.ended = origin
	} else if w.ended != origin {
		return fmt.Errorf("the end event names origin %q, not %q\nhint: seal with the origin the end event names", w.ended, origin)
	}
	text := origin + "\n" + strconv.Itoa(w.next) + "\n" + base64.StdEncoding.EncodeToString(w.head) + "\n"
	signed, err := note.Sign(&note.Note{Text: text}, &noteKey{name: origin, k: w.key, signer: w.signer})
	if err != nil {
		return fmt.Errorf("cannot sign the checkpoint: %v", err)
	}
	if err := atomicfile.WriteOnce(filepath.Join(w.dir, CheckpointFile), signed, 0o644); err != nil {
		return err
	}
	w.sealed = true
	return nil
}

// Close closes the transcript file. It does not seal the transcript.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// marshalFacts encodes facts as a JSON object; nil gives {}.
func marshalFacts(facts any) (json.RawMessage, error) {
	if facts == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(facts)
	if err != nil {
		return nil, fmt.Errorf("cannot encode facts: %v", err)
	}
	if len(b) == 0 || b[0] != '{' {
		if string(b) == "null" {
			return json.RawMessage("{}"), nil
		}
		return nil, fmt.Errorf("facts must encode to a JSON object, not %.20s", b)
	}
	// The line's byte form is the package's own (see line.go), not encoding/json's.
	canon, err := canonicalJSON(b)
	if err != nil {
		return nil, fmt.Errorf("cannot encode facts: %v", err)
	}
	return canon, nil
}

// lineSum returns the SHA-256 of a line without its newline; lineHash, the same in hex.
func lineSum(line []byte) []byte {
	sum := sha256.Sum256(line)
	return sum[:]
}

func lineHash(line []byte) string { return hex.EncodeToString(lineSum(line)) }
