//go:build cgo

package ceremony

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/errs"
)

// pin copies an input into the record at rel (slash-separated, under InputsDir) and returns
// what the checking event records of it. A copy left by a run interrupted before it recorded
// its check is replaced when the file now checked differs, and the exception says so.
func (e *engine) pin(step, source, rel string, data []byte) (PinnedInput, error) {
	p := PinnedInput{Source: source, SHA256: sha256Hex(data), Copy: rel}
	abs := filepath.Join(e.out, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return p, err
	}
	old, err := os.ReadFile(abs)
	switch {
	case err == nil && bytes.Equal(old, data):
		return p, nil
	case err == nil:
		if err := os.Remove(abs); err != nil {
			return p, err
		}
		e.exception(step, fmt.Sprintf("the unrecorded copy %s from before the interruption differs from %s as checked now; it is replaced", rel, source))
	case !errors.Is(err, fs.ErrNotExist):
		return p, err
	}
	return p, writeOnce(abs, data)
}

// pinnedFiles returns the bytes of the inputs a step pinned, by the name its event gives them,
// read from the copies in the record and checked against the SHA-256 in the event and in the
// event's file list. The event comes from this run or, on resume, from the transcript that
// transcript.Open verified.
func (e *engine) pinnedFiles(step string, inputs map[string]PinnedInput) (map[string][]byte, error) {
	ev, err := e.recordedEvent(step)
	if err != nil {
		return nil, err
	}
	recorded := map[string]string{}
	for _, f := range ev.Files {
		recorded[f.Path] = f.SHA256
	}
	var facts struct {
		Inputs map[string]PinnedInput `json:"inputs"`
	}
	if err := json.Unmarshal(ev.Facts, &facts); err != nil || len(facts.Inputs) == 0 {
		return nil, fmt.Errorf("the %s event records no checked inputs\nhint: this ceremony was started by an older keyceremony; start a new one", step)
	}
	out := map[string][]byte{}
	for name, in := range facts.Inputs {
		data, err := os.ReadFile(filepath.Join(e.out, filepath.FromSlash(in.Copy)))
		if err != nil {
			return nil, fmt.Errorf("the checked copy of %s is unreadable: %v\nhint: the record was altered; do not go on", in.Source, err)
		}
		if got := sha256Hex(data); got != in.SHA256 || recorded[in.Copy] != in.SHA256 || path.Dir(in.Copy) == "." {
			return nil, fmt.Errorf("the checked copy %s of %s is not what step %s recorded\nhint: the record was altered; do not go on", in.Copy, in.Source, step)
		}
		out[name] = data
		if inputs != nil {
			inputs[name] = in
		}
	}
	return out, nil
}

// recordedEvent is the last step event of a step id: recorded in this run, or before an
// interruption.
func (e *engine) recordedEvent(step string) (transcript.Event, error) {
	if ev, ok := e.recorded[step]; ok {
		return ev, nil
	}
	ev, ok, err := e.priorEvent(step)
	if err != nil {
		return ev, err
	}
	if !ok {
		return ev, fmt.Errorf("the transcript has no %s event\nhint: the record was altered; do not go on", step)
	}
	return ev, nil
}

// priorEvent is the last step event of a step id among those written before this run, as they
// verify now (signatures, chain and the files they name): what a resume takes from the record
// is never what the files say, and never an event that does not verify.
func (e *engine) priorEvent(step string) (transcript.Event, bool, error) {
	if e.prior == nil {
		r := transcript.Verify(e.out)
		if r.FirstBad >= 0 {
			return transcript.Event{}, false, errs.Unchanged("cannot resume: the transcript does not verify: "+r.Problem, "run keyceremony verify on the folder; a tampered or damaged transcript cannot be resumed")
		}
		e.prior = r.Chain
	}
	for i := len(e.prior) - 1; i >= 0; i-- {
		if ev := e.prior[i]; ev.Kind == transcript.KindStep && ev.Step == step {
			return ev, true, nil
		}
	}
	return transcript.Event{}, false, nil
}
