package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/ceremony/witness"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/paper"
)

// cmdReport writes the auditor's report of a ceremony folder as PDF: the verdict first, then
// what the verified events say. A folder that does not verify gets a one-page NOT VERIFIED
// report naming the first problem, and the command fails.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "report DIR --out FILE.pdf [--witness VKEY... | --witnesses FILE] [--quorum K]", stderr)
	out := fs.String("out", "", "the PDF to write (it must not exist)")
	w := addWitnessFlags(fs)
	pos, err := parse(fs, args, oneFolder)
	if err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("report needs --out FILE.pdf\nhint: keyceremony report %s --out report.pdf", pos[0])
	}
	if err := w.load(); err != nil {
		return err
	}
	dir := pos[0]
	r := transcript.Verify(dir)
	var cosigned *witness.Outcome
	if r.OK && w.list.Len() > 0 {
		o := witness.Check(dir, r, &w.list, w.quorum)
		cosigned = &o
	}
	pdf, err := auditReport(dir, r, cosigned).PDF()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteOnce(*out, pdf, 0o644); err != nil {
		return err
	}
	if !r.OK {
		return fmt.Errorf("%s does not verify: %s; %s is a NOT VERIFIED report\nhint: check it with 'keyceremony verify %s'", dir, r.Problem, *out, dir)
	}
	if cosigned != nil && !cosigned.OK {
		return fmt.Errorf("%s: %s; %s says so\nhint: each witness cosigns with keyceremony cosign; a cosignature named in the report as unknown or invalid does not count", dir, cosigned.Reason, *out)
	}
	fmt.Fprintf(stdout, "Wrote the report of %s to %s (%d events)\n", dir, *out, len(r.Chain))
	return nil
}

// auditReport reads the report from the events as they verified; nothing of an unverified
// folder but the verifier's words. cosigned is the check of the cosignatures against the
// auditor's witnesses; without it, they are listed, not checked.
func auditReport(dir string, r transcript.Report, cosigned *witness.Outcome) paper.Report {
	rep := paper.Report{Folder: dir, Verified: r.OK, Verdict: r.Lines}
	if !r.OK {
		return rep
	}
	var (
		ceremonyLines = []string{"Signing key " + r.Fingerprint, "  read back: " + readback.Format(r.Fingerprint)}
		keys, sets    []string
		packages      []string
		witnesses     []string
		holders       = map[string][]string{}
	)
	if cp, err := os.ReadFile(filepath.Join(dir, transcript.CheckpointFile)); err == nil {
		sum := sha256.Sum256(cp)
		ceremonyLines = append(ceremonyLines, "Checkpoint SHA-256 "+hex.EncodeToString(sum[:]))
	}
	for _, ev := range r.Chain {
		e := paper.Entry{Seq: ev.Seq, Time: ev.Time.UTC().Format(time.DateTime), Step: ev.Step, Actor: actorName(ev.Actor)}
		if ev.Kind == transcript.KindException {
			var f ceremony.ExceptionFacts
			json.Unmarshal(ev.Facts, &f)
			e.Exception, e.What = true, f.Exception
		}
		if ev.Kind == transcript.KindBegin {
			var b transcript.BeginFacts
			var c ceremony.BeginFacts
			if json.Unmarshal(ev.Facts, &b) == nil && json.Unmarshal(b.Ceremony, &c) == nil {
				ceremonyLines = append([]string{fmt.Sprintf("Ceremony %s (%s), interaction %s", c.Ceremony, c.Kind, c.Interaction),
					"Plan SHA-256 " + b.PlanSHA256, "keyceremony " + c.KeyceremonyVersion + ", binary SHA-256 " + c.KeyceremonySHA256}, ceremonyLines...)
				for _, p := range c.Participants {
					ceremonyLines = append(ceremonyLines, fmt.Sprintf("Participant %s", p))
				}
			}
		}
		facts := ceremony.StepFacts(ev.Step)
		if ev.Kind == transcript.KindStep && facts != nil && json.Unmarshal(ev.Facts, facts) == nil {
			switch f := facts.(type) {
			case *ceremony.KeyFacts:
				k := fmt.Sprintf("%s: key %q, %s, CKA_ID %s", ev.Step, f.Label, f.Spec, f.ID)
				if f.KCV != "" {
					k += ", key check value " + strings.ToUpper(f.KCV)
				}
				if f.Fingerprint != "" {
					k += ", public key " + f.Fingerprint
				}
				keys = append(keys, k)
			case *ceremony.HandoutFacts:
				h := fmt.Sprintf("  share %d: %s, %s", f.Index, f.Custodian, f.Delivery)
				if f.Bag != nil {
					h += ", bag " + f.Bag.Serial
				}
				holders[f.SetID] = append(holders[f.SetID], h)
				if f.HandoutSHA256 != "" {
					holders[f.SetID] = append(holders[f.SetID], "    file SHA-256 "+f.HandoutSHA256)
				}
			case *ceremony.BackupFacts:
				s := fmt.Sprintf("Set %s: any %d of %d restore (%s)", f.SetID, f.Threshold, len(f.Custodians), strings.Join(f.Custodians, ", "))
				if f.Replaces != "" {
					s += "; replaces set " + f.Replaces
				}
				sets = append(sets, s)
				sets = append(sets, holders[f.SetID]...)
			case *ceremony.WrapFacts:
				packages = append(packages, fmt.Sprintf("%s (%s): %s", path.Join(f.Key, f.Target), f.Profile, f.Algorithm), "  wrapping key "+f.WrappingKeyFingerprint)
				for _, file := range ev.Files {
					packages = append(packages, "  "+file.Path, "    SHA-256 "+file.SHA256)
				}
			case *ceremony.SignOffFacts:
				witnesses = append(witnesses, fmt.Sprintf("Closing summary confirmed by %s (%s)", f.Confirmed.By, f.Confirmed.How))
			}
		}
		e.What = strings.TrimSpace(e.What)
		rep.Timeline = append(rep.Timeline, e)
	}
	for _, rc := range r.Receipts {
		packages = append(packages, "Upload receipt (not signed, not checked): "+rc)
	}
	if cosigned != nil {
		witnesses = append(witnesses, cosigned.Lines...)
		if !cosigned.OK {
			rep.NotCosigned = cosigned.Reason
		}
	} else {
		for _, c := range r.Cosignatures {
			witnesses = append(witnesses, fmt.Sprintf("Cosignature by %s at %s (listed, not checked: report --witness checks it)", c.Name, c.Timestamp.UTC().Format(time.DateTime)))
		}
		for _, s := range r.SSHSignatures {
			witnesses = append(witnesses, "SSH signature file "+s+" (listed, not checked: report --witness checks it)")
		}
	}
	rep.Sections = []paper.Section{
		{Title: "Ceremony", Lines: ceremonyLines},
		{Title: "Keys", Lines: keys},
		{Title: "Share sets and holders", Lines: sets},
		{Title: "Packages and uploads", Lines: packages},
		{Title: "Witnesses and cosignatures", Lines: witnesses},
	}
	return rep
}

func actorName(a transcript.Actor) string {
	return ceremony.Actor{Role: a.Role, Name: a.Name}.String()
}
