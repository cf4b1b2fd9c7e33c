//go:build cgo

package ceremony

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/errs"
)

// LoadFolder loads the plan of the ceremony in dir from its copy there, for `run --resume DIR`
// and `run --abort DIR`: the folder given is the ceremony and its copy of the plan is
// authoritative, whatever became of the plan file since. Relative paths in the plan start, as
// when the ceremony began, from the folder of the plan file named in plan.source; without
// plan.source, from dir's parent, where `output: NAME` puts the ceremony folder.
func LoadFolder(dir string) (*Plan, error) {
	raw, err := os.ReadFile(filepath.Join(dir, PlanCopyName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no ceremony to resume: it has no %s\nhint: give the output folder of an interrupted ceremony", dir, PlanCopyName)
	}
	if err != nil {
		return nil, err
	}
	var source string
	base := filepath.Dir(filepath.Clean(dir))
	if src, err := os.ReadFile(filepath.Join(dir, PlanSourceName)); err == nil {
		source = strings.TrimSpace(string(src))
		base = filepath.Dir(source)
	}
	p, err := ParsePlan(raw, base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PlanCopyName), err)
	}
	p.out, p.source = dir, source
	return p, nil
}

// checkPlanSource reports a plan file that moved or changed since the ceremony began: the copy
// in the folder is what the ceremony follows, and the record says the file no longer matches.
func (e *engine) checkPlanSource() {
	if e.plan.source == "" {
		return
	}
	raw, err := os.ReadFile(e.plan.source)
	switch {
	case err != nil:
		e.note(stepBegin, fmt.Sprintf("the plan file %s that started this ceremony cannot be read (moved or removed); the ceremony follows its copy %s", e.plan.source, PlanCopyName))
	case !bytes.Equal(raw, e.plan.raw):
		e.note(stepBegin, fmt.Sprintf("the plan file %s changed since this ceremony started; the ceremony follows its copy %s, not the file", e.plan.source, PlanCopyName))
	}
}

// readFolder reads the transcript of the ceremony to resume. A folder whose transcript has no
// complete line yet (the run stopped while starting it) gives no events: begin starts it anew.
func (e *engine) readFolder() ([]transcript.Event, error) {
	if _, err := os.Stat(e.out); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: the ceremony had not started, nothing was written or made\nhint: start it with 'keyceremony run PLAN'", e.out)
	}
	kept, err := os.ReadFile(filepath.Join(e.out, PlanCopyName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no ceremony to resume: it has no %s\nhint: start it with 'keyceremony run PLAN' instead", e.out, PlanCopyName)
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(kept, e.plan.raw) {
		return nil, fmt.Errorf("the plan differs from the one this ceremony started with (%s)\nhint: resume with the folder alone: 'keyceremony run --resume %s'", filepath.Join(e.out, PlanCopyName), e.out)
	}
	data, err := os.ReadFile(filepath.Join(e.out, transcript.TranscriptFile))
	if errors.Is(err, fs.ErrNotExist) || err == nil && !bytes.Contains(data, []byte("\n")) {
		return nil, nil
	}
	events, err := transcript.Read(e.out)
	if err != nil {
		return nil, fmt.Errorf("cannot resume: %w", err)
	}
	return events, nil
}

// restart removes what a run that stopped before the first event was written whole left of the
// transcript, so that it can be started: a public key, an empty or cut-short first line. None of
// it was signed into anything.
func (e *engine) restart() error {
	var removed []string
	for _, name := range []string{transcript.TranscriptFile, transcript.PublicKeyFile} {
		err := os.Remove(filepath.Join(e.out, name))
		if err == nil {
			removed = append(removed, name)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(removed) > 0 {
		e.note(stepBegin, "the run before stopped while starting the transcript; removed what it left: "+strings.Join(removed, ", "))
	}
	return nil
}

// removeLeftovers removes the temporary files and folders an interruption left in the ceremony
// folder (never complete, never named by an event), and records their names.
func (e *engine) removeLeftovers() error {
	left, err := atomicfile.Leftovers(e.out)
	if err != nil || len(left) == 0 {
		return err
	}
	for _, name := range left {
		if err := os.RemoveAll(filepath.Join(e.out, filepath.FromSlash(name))); err != nil {
			return err
		}
	}
	e.note(stepBegin, "removed temporary files an interruption left (never complete, never recorded): "+strings.Join(left, ", "))
	return nil
}

// createOutput makes the output folder with the plan's copy and source, the first effect of a
// ceremony, once the token has been opened and every check has passed. The folder appears whole:
// it is built under a temporary name beside it, and one left by an earlier interrupted start
// is removed first.
func (e *engine) createOutput() error {
	abs, err := filepath.Abs(e.PlanPath)
	if err != nil {
		return err
	}
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(e.out), atomicfile.TempPrefix+filepath.Base(e.out)+"-*"))
	for _, s := range stale {
		if err := os.RemoveAll(s); err != nil {
			return err
		}
		e.note(stepBegin, "removed "+s+", the output folder of a start interrupted before it was complete")
	}
	err = atomicfile.WriteDir(e.out, []atomicfile.File{
		{Name: PlanCopyName, Data: e.plan.raw, Perm: 0o600},
		{Name: PlanSourceName, Data: []byte(abs + "\n"), Perm: 0o600},
	})
	if err != nil {
		return fmt.Errorf("cannot create the output folder: %w", err)
	}
	return nil
}

// note queues an exception to record once the transcript is open, and shows it now.
func (e *engine) note(step, what string) {
	e.ui.Notice(what)
	e.pending = append(e.pending, [2]string{step, what})
}

// recordNotes records the queued exceptions; once the end event is written nothing can be, and
// they were shown only.
func (e *engine) recordNotes() {
	if !e.ended {
		for _, n := range e.pending {
			e.exceptionOnce(n[0], n[1])
		}
	}
	e.pending = nil
}

// exceptionOnce records an exception unless the same one is in the transcript since the last
// step: a resume that fails again for the same reason adds nothing.
func (e *engine) exceptionOnce(step, what string) {
	if e.seen[step+"\x00"+what] {
		return
	}
	e.seen[step+"\x00"+what] = true
	e.exception(step, what)
}

// progressed reports whether a step event moves the ceremony on; the signing key check and the
// trust step are recorded on every run, so they do not.
func progressed(step string) bool { return step != stepSigningKeyChecked && step != stepTrust }

// markDone takes the steps, the exceptions since the last step, and the end of a resumed
// ceremony from its transcript.
func (e *engine) markDone(events []transcript.Event) {
	e.started = len(events) > 0
	for _, ev := range events {
		for _, f := range ev.Files {
			e.named[f.Path] = true
		}
		switch ev.Kind {
		case transcript.KindStep:
			e.done[ev.Step] = true
			if progressed(ev.Step) {
				clear(e.seen)
			}
		case transcript.KindException:
			var f struct{ Exception string }
			if json.Unmarshal(ev.Facts, &f) == nil {
				e.seen[ev.Step+"\x00"+f.Exception] = true
			}
		case transcript.KindEnd:
			e.ended = true
		}
	}
}

// removeUnrecorded removes, for an abort, the files an interruption left written but not
// recorded (an import package, a pinned input) and the folders left empty: the aborted
// ceremony's folder holds only what its transcript names, and hands over no package it does not
// record.
func (e *engine) removeUnrecorded() ([]string, error) {
	var removed, dirs []string
	err := filepath.WalkDir(e.out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(e.out, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			dirs = append(dirs, rel)
			return nil
		case e.named[rel]:
			return nil
		}
		switch rel {
		case transcript.TranscriptFile, transcript.PublicKeyFile, transcript.CheckpointFile, PlanCopyName, PlanSourceName:
			return nil
		}
		removed = append(removed, rel)
		return os.Remove(path)
	})
	if err != nil {
		return removed, err
	}
	// Deepest first, so that a folder emptied by its subfolders' removal goes too.
	for i := len(dirs) - 1; i > 0; i-- {
		if os.Remove(filepath.Join(e.out, dirs[i])) == nil {
			removed = append(removed, dirs[i]+"/")
		}
	}
	return removed, nil
}

// reportUnnamed records, on a resume, that the token holds keys with no label or objects with no
// class: a kill inside key generation leaves such objects in SoftHSM2. Nothing finds them by
// label, so the ceremony never adopts or uses them; the record says they are there.
func (e *engine) reportUnnamed() error {
	n, err := e.sess.Unnamed()
	if err != nil || n == 0 {
		return err
	}
	e.note(stepBegin, fmt.Sprintf("token %q holds %d keys with no label or objects with no class, which this ceremony did not record (an interruption inside key generation leaves such objects); they are not adopted or used: check them and remove them with the vendor's tool", e.sess.Token().Label, n))
	return nil
}

// refuseTakenID refuses, on a resume, to make the key an intent names when objects with the
// intended CKA_ID but not its label are in the token: the ceremony did not make them (a key it
// made carries the label too), so they are reported, and neither adopted nor ignored.
func (e *engine) refuseTakenID(in KeyIntent) error {
	id, err := hex.DecodeString(in.CKAID)
	if err != nil {
		return err
	}
	n, err := e.sess.CountID(id)
	if err != nil || n == 0 {
		return err
	}
	return errs.Unchanged(fmt.Sprintf("token %q has %d objects with CKA_ID %s, which this ceremony recorded for its key %q before making it, but none labelled so: this ceremony did not make them", e.sess.Token().Label, n, in.CKAID, in.Label), "someone with the PIN made them: find out who; remove them with the vendor's tool, then resume")
}
