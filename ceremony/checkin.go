package ceremony

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/version"
)

// A check-in proves that custodians still hold their shares, without an HSM and without
// combining anything: each share entered is checked against its commitment in the set's
// manifest (backup.Verify) and dropped. The record is signed by an Ed25519 key made in memory
// for this check-in alone and forgotten at the seal; its fingerprint goes on the paper log and
// witnesses cosign the checkpoint (docs/lifecycle.md says what this proves and what it does not).

// Steps of a check-in.
const (
	stepCheckInSet = "check-in-set" // the set and the signing key, shown to the witness
	stepCheckIn    = "check-in"     // check-in:N, one custodian (share N)
)

// DefaultCheckInInterval is how often each custodian should check in when the plan does not say.
const DefaultCheckInInterval = 365

// CheckInPlan is the check_in section of a kind: check-in plan.
type CheckInPlan struct {
	// Manifest is the set's backup-manifest.json; Ceremonies the folders whose verified
	// transcripts seal it and every re-share since (as restore.ceremonies).
	Manifest   string   `yaml:"manifest"`
	Ceremonies []string `yaml:"ceremonies"`
	// Custodians are those expected to check in, by the names the set gives them.
	Custodians []string `yaml:"custodians"`
	// BagSerials asks each custodian for the serial of the tamper-evident bag holding their
	// share, compared with the one their handout recorded.
	BagSerials bool `yaml:"bag_serials"`
	// IntervalDays is how often each holder should check in; the inventory flags holders
	// overdue against it (DefaultCheckInInterval when 0).
	IntervalDays int `yaml:"interval_days"`
}

// CheckInSetFacts: the set the check-in is for, and the key that signs its record (step
// check-in-set).
type CheckInSetFacts struct {
	SetID        string      `json:"set_id"`
	Threshold    int         `json:"threshold"`
	Custodians   []string    `json:"custodians"` // the set's holders, in share order
	Expected     []string    `json:"expected"`   // those the plan expects to check in
	Manifest     PinnedInput `json:"manifest"`
	SealedIn     string      `json:"sealed_in"` // the ceremony folder that sealed the set, as the plan names it
	IntervalDays int         `json:"interval_days"`
	// SigningKey is the fingerprint of the in-memory key signing this record, which the witness
	// confirmed writing on the paper log.
	SigningKey        string       `json:"signing_key"`
	SigningKeyWritten Confirmation `json:"signing_key_written"`
}

// CheckInFacts: one custodian checked in (step check-in:N). ShareVerified is true only when
// the share entered matched its commitment; refused attempts are exceptions before it.
type CheckInFacts struct {
	Custodian     string         `json:"custodian"`
	Index         int            `json:"index"`
	SetID         string         `json:"set_id"`
	Present       bool           `json:"present"`
	ShareVerified bool           `json:"share_verified"`
	Commitment    string         `json:"commitment"` // the manifest's commitment the share matched
	Attempts      int            `json:"attempts"`
	Bag           *BagInspection `json:"bag,omitempty"` // when the plan asks for bag serials
}

// checkInScript is what a check-in does, for plan check and the printed runbook. The record
// numbers each custodian's step by their share (check-in:N), which the manifest says when it runs.
func (p *Plan) checkInScript() []Step {
	witness := p.first(RoleWitness)
	s := []Step{{ID: stepCheckInSet, Title: "Check the share set and write the check-in signing key on the paper log", Actor: witness,
		Instructions: fmt.Sprintf("The tool checks, from the verified transcripts of the ceremonies the plan names, that the set is sealed and neither void nor superseded. It makes a signing key in memory for this check-in alone; %s writes its fingerprint on the paper log and signs it.", witness.Name)}}
	for _, name := range p.CheckIn.Custodians {
		instr := fmt.Sprintf("%s enters their share (typed or from its file); it is checked against its commitment in the manifest, never combined with another.", name)
		if p.CheckIn.BagSerials {
			instr += " Then " + name + " reads the serial of the bag that held it, compared with the one recorded at the handout."
		}
		s = append(s, Step{ID: stepCheckIn + ":" + name, Title: name + " proves they hold their share", Actor: Actor{Role: RoleCustodian, Name: name}, Instructions: instr})
	}
	return append(s, Step{ID: stepSeal, Title: "Seal the record", Actor: witness,
		Instructions: fmt.Sprintf("The transcript is sealed and the signing key forgotten. %s checks the fingerprint printed at the end against the paper log; witnesses cosign the record (keyceremony cosign).", witness.Name)})
}

// checkInAttempts is how often a custodian may enter a share before their check-in is recorded
// as not verified.
const checkInAttempts = 3

func (p *Plan) validateCheckIn() error {
	c := p.CheckIn
	switch {
	case c == nil:
		return planErr("a check-in needs a check_in section naming the set's manifest, its ceremonies and the custodians expected")
	case p.Backup != nil || p.Restore != nil || len(p.Targets) > 0 || p.Key.Label != "" || p.Key.Type != "" || len(p.Keys) > 0 || p.Token != (TokenPlan{}):
		return planErr("a check-in has only check_in, participants and output\nhint: it touches no HSM and no key; remove token, key, backup, restore and targets")
	case c.Manifest == "":
		return planErr("check_in.manifest is missing\nhint: name the backup-manifest.json of the set the custodians hold")
	case len(c.Ceremonies) == 0:
		return planErr("check_in.ceremonies is missing\nhint: name the folders of this key's ceremonies (the one that made the set and every re-share since): their transcripts say whether the set is current")
	case len(c.Custodians) == 0:
		return planErr("check_in.custodians is missing\nhint: name the custodians expected to check in")
	case c.IntervalDays < 0:
		return planErr("check_in.interval_days is %d\nhint: how often each holder should check in, in days (365 when left out)", c.IntervalDays)
	case p.Output == "":
		return planErr("output is missing\nhint: name a folder that does not exist yet; the check-in creates it")
	}
	seen := map[string]bool{}
	for _, n := range c.Custodians {
		if seen[n] {
			return planErr("custodian %q is named twice in check_in.custodians", n)
		}
		seen[n] = true
	}
	return p.validateParticipants()
}

// checkInSet reads the manifest the plan names and checks, from the verified transcripts of
// its ceremonies, that the set is sealed, not void and not superseded, and that every expected
// custodian holds a share of it.
func (p *Plan) checkInSet() (*backup.Manifest, []byte, setStatus, error) {
	c := p.CheckIn
	raw, err := os.ReadFile(p.Path(c.Manifest))
	if err != nil {
		return nil, nil, setStatus{}, fmt.Errorf("cannot read the set's manifest: %v\nhint: copy the backup folder of the ceremony that sealed the set to this machine", err)
	}
	m, err := backup.ParseManifest(raw)
	if err != nil {
		return nil, nil, setStatus{}, err
	}
	dirs := make([]string, len(c.Ceremonies))
	for i, d := range c.Ceremonies {
		dirs[i] = p.Path(d)
	}
	st, err := readSetStatus(raw, m, dirs, "check_in.ceremonies")
	if err != nil {
		return nil, nil, st, err
	}
	if st.SupersededBy != "" {
		return nil, nil, st, fmt.Errorf("backup set %s is superseded by set %s (ceremony folder %s): a check-in with its shares proves nothing\nhint: check in with the current set's manifest; its custodians should destroy their old shares", m.SetID, st.SupersededBy, st.SupersededIn)
	}
	for _, n := range c.Custodians {
		if !slices.Contains(m.Custodians, n) {
			return nil, nil, st, fmt.Errorf("custodian %q holds no share of set %s (its holders are %s)\nhint: name the custodians as the set names them", n, m.SetID, strings.Join(m.Custodians, ", "))
		}
	}
	return m, raw, st, nil
}

// CheckCheckIn checks a check-in plan as far as it can be before it runs: the output folder is
// new and the set is current. It returns the set's manifest.
func (p *Plan) CheckCheckIn() (*backup.Manifest, error) {
	if err := p.checkInOutputFree(); err != nil {
		return nil, err
	}
	m, _, _, err := p.checkInSet()
	return m, err
}

func (p *Plan) checkInOutputFree() error {
	if _, err := os.Lstat(p.OutputDir()); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output folder %s already exists\nhint: a check-in writes into a new folder; choose another output", p.OutputDir())
	}
	return nil
}

// CheckInOptions configure one check-in.
type CheckInOptions struct {
	Plan       *Plan
	UI         Interaction
	Identities []age.Identity    // open age-recipient share files
	BagSerials map[string]string // typed bag serials by custodian, for headless runs
}

// checkIn is one check-in as it runs.
type checkIn struct {
	CheckInOptions
	m       *backup.Manifest
	tr      *transcript.Writer
	witness Actor
	bags    map[int]string // bag serials the handouts recorded, by share index
}

// RunCheckIn runs a check-in: it checks the plan and the set in full, makes the folder and an
// in-memory signing key, has the witness write the key's fingerprint on the paper log, asks
// each expected custodian for their share and checks it against its commitment, records one
// event per custodian and seals. It returns the signing key's fingerprint.
func RunCheckIn(o CheckInOptions) (string, error) {
	p := o.Plan
	if p.Kind != KindCheckIn {
		return "", fmt.Errorf("plan %s is a %s plan, not a check-in\nhint: run it with 'keyceremony run'", p.Ceremony, p.Kind)
	}
	if err := p.checkInOutputFree(); err != nil {
		return "", err
	}
	// The manifest bytes checked here are the bytes recorded: it is not read again.
	m, raw, st, err := p.checkInSet()
	if err != nil {
		return "", err
	}
	out := p.OutputDir()
	if err := os.Mkdir(out, 0o755); err != nil {
		return "", err
	}
	if err := writeOnce(filepath.Join(out, PlanCopyName), p.raw); err != nil {
		return "", err
	}
	// The key lives in memory for this check-in alone and is zeroed when it ends: nothing can
	// sign into this record afterwards.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	defer clear(priv)
	c := &checkIn{CheckInOptions: o, m: m, bags: handoutBags(st, m.SetID)}
	for _, a := range p.Participants {
		if a.Role == RoleWitness {
			c.witness = a
			break
		}
	}
	begin := transcript.Begin{Actor: transcript.Actor(c.witness), PlanSHA256: p.SHA256(), Files: []string{PlanCopyName}, Facts: BeginFacts{
		Ceremony: p.Ceremony, Kind: p.Kind, KeyceremonyVersion: version.Version,
		KeyceremonyRevision: cmp.Or(version.Revision, "not recorded"), KeyceremonyBuild: version.Platform,
		Participants: p.Participants, Interaction: o.UI.Mode(),
	}}
	if c.tr, err = transcript.Create(out, priv, begin); err != nil {
		return "", err
	}
	defer c.tr.Close()
	fp := c.tr.Fingerprint()
	err = c.recordSet(raw, st)
	for _, name := range p.CheckIn.Custodians {
		if err != nil {
			break
		}
		err = c.custodian(slices.Index(m.Custodians, name) + 1)
	}
	if err != nil {
		// The key is gone with this process: the record can never be sealed, so it counts for
		// nothing, and a check-in is simply held again.
		return fp, fmt.Errorf("the check-in did not finish: %w\n%s holds an unsealed record, which verify and the inventory refuse\nhint: hold the check-in again with a new output folder; keep this one for the record of what happened", err, out)
	}
	return fp, c.tr.Seal("keyceremony/"+p.Ceremony, transcript.Actor(c.witness))
}

// handoutBags reads the bag serials the set's handout events recorded, from the ceremony that
// sealed it (verified again: its events as they verify now).
func handoutBags(st setStatus, setID string) map[int]string {
	bags := map[int]string{}
	for _, ev := range transcript.Verify(st.SealedIn).Chain {
		var f HandoutFacts
		if strings.HasPrefix(ev.Step, stepHandout+":") && decodeFacts(ev, &f) && f.SetID == setID && f.Bag != nil {
			bags[f.Index] = f.Bag.Serial
		}
	}
	return bags
}

func (c *checkIn) recordSet(raw []byte, st setStatus) error {
	p := c.Plan
	rel := InputsDir + "/backup/" + backup.ManifestFile
	if err := os.MkdirAll(filepath.Join(p.OutputDir(), InputsDir, "backup"), 0o755); err != nil {
		return err
	}
	if err := writeOnce(filepath.Join(p.OutputDir(), filepath.FromSlash(rel)), raw); err != nil {
		return err
	}
	fp := c.tr.Fingerprint()
	conf := Confirmation{By: c.witness, How: ConfirmedHeadless}
	if c.UI.Mode() == ModeHeadless {
		c.UI.Confirm(ConfirmRequest{Actor: c.witness, Detail: "check-in signing key " + fp})
	} else {
		if _, err := c.UI.Confirm(ConfirmRequest{Actor: c.witness,
			Prompt: "Write the check-in signing key on the paper log",
			Detail: fmt.Sprintf("This check-in is signed by a key made for it alone, in memory:\n%s\nWrite it on the paper log and sign it; witnesses cosign the record afterwards (keyceremony cosign).", readback.Format(fp))}); err != nil {
			return err
		}
		conf.How = ConfirmedTypedYes
	}
	interval := cmp.Or(p.CheckIn.IntervalDays, DefaultCheckInInterval)
	_, err := c.tr.Append(transcript.Entry{Step: stepCheckInSet, Actor: transcript.Actor(c.witness), Files: []string{rel}, Facts: CheckInSetFacts{
		SetID: c.m.SetID, Threshold: c.m.M, Custodians: c.m.Custodians, Expected: p.CheckIn.Custodians,
		Manifest: PinnedInput{Source: p.CheckIn.Manifest, SHA256: sha256Hex(raw), Copy: rel},
		SealedIn: sealedInName(p, st.SealedIn), IntervalDays: interval, SigningKey: fp, SigningKeyWritten: conf,
	}})
	return err
}

// sealedInName is the plan's name of the ceremony folder dir.
func sealedInName(p *Plan, dir string) string {
	for _, d := range p.CheckIn.Ceremonies {
		if p.Path(d) == dir {
			return d
		}
	}
	return dir
}

// custodian asks the holder of share index for it and records the outcome.
func (c *checkIn) custodian(index int) error {
	m := c.m
	name := m.Custodians[index-1]
	who := Actor{Role: RoleCustodian, Name: name}
	step := fmt.Sprintf("%s:%d", stepCheckIn, index)
	facts := CheckInFacts{Custodian: name, Index: index, SetID: m.SetID, Present: true}
	attempts := checkInAttempts
	if c.UI.Mode() == ModeHeadless {
		attempts = 1 // one --share file per custodian: the next one is the next custodian's
	}
	var lastErr string
	for facts.Attempts < attempts && !facts.ShareVerified {
		facts.Attempts++
		text, err := c.UI.EnterShare(ShareRequest{Custodian: who, Progress: fmt.Sprintf("check-in of %s", name),
			LastError: lastErr, SetID: m.SetID, Replaced: m.Replaces, Custodians: m.Custodians})
		if err != nil {
			return err
		}
		if err = c.checkShare(text, index); err != nil {
			lastErr = firstLine(err.Error())
			c.UI.Notice("share refused: " + lastErr)
			if _, err := c.tr.Append(transcript.Entry{Step: step, Kind: transcript.KindException, Actor: transcript.Actor(who),
				Facts: ExceptionFacts{Exception: fmt.Sprintf("%s's share %d refused (attempt %d): %s", name, index, facts.Attempts, lastErr)}}); err != nil {
				return err
			}
			continue
		}
		facts.ShareVerified, facts.Commitment = true, m.Commitments[index-1]
		c.UI.Success(fmt.Sprintf("verified: share %d (%s) matches its commitment", index, name))
	}
	if c.Plan.CheckIn.BagSerials {
		bag, err := c.bag(who, index)
		if err != nil {
			return err
		}
		facts.Bag = bag
	}
	_, err := c.tr.Append(transcript.Entry{Step: step, Actor: transcript.Actor(who), Facts: facts})
	if err == nil {
		c.UI.Record(summarize(step, facts))
	}
	return err
}

// checkShare reads what the custodian entered and checks it is their share of the set, by its
// commitment. The share is zeroed; nothing is combined.
func (c *checkIn) checkShare(text string, index int) error {
	m := c.m
	name := m.Custodians[index-1]
	sh, err := readShareText(text, c.UI, Actor{Role: RoleCustodian, Name: name}, index, c.Identities)
	if err != nil {
		return err
	}
	defer sh.Zero()
	switch {
	case m.Replaces != "" && sh.SetID == m.Replaces:
		return fmt.Errorf("share %d entered for %s is from set %s, replaced by set %s; it proves nothing now", sh.Index, name, m.Replaces, m.SetID)
	case sh.SetID != m.SetID:
		return fmt.Errorf("share %d entered for %s belongs to set %s, not to set %s", sh.Index, name, sh.SetID, m.SetID)
	case sh.Index != index:
		return fmt.Errorf("share %d entered for %s is not %s's share %d", sh.Index, name, name, index)
	}
	return backup.Verify(m, sh)
}

// bag asks for the serial of the bag holding the custodian's share and compares it with the
// one the handout recorded; a mismatch or a bag never recorded is an exception.
func (c *checkIn) bag(who Actor, index int) (*BagInspection, error) {
	typed, err := askBagSerial(c.UI, c.BagSerials, who, fmt.Sprintf("Serial of the bag holding %s's share %d, as printed on it", who.Name, index))
	if err != nil {
		return nil, err
	}
	b, problem := compareBag(who, index, c.bags[index], typed, c.UI.Mode())
	if problem != "" {
		_, err := c.tr.Append(transcript.Entry{Step: fmt.Sprintf("%s:%d", stepCheckIn, index), Kind: transcript.KindException, Actor: transcript.Actor(who), Facts: ExceptionFacts{Exception: problem}})
		return b, err
	}
	return b, nil
}

// readShareText turns what a custodian entered into a share: typed text, or "file:PATH" of a
// typed share or an age file, opened with a passphrase asked of who or with identities.
func readShareText(text string, in Interaction, who Actor, index int, identities []age.Identity) (backup.Share, error) {
	path, isFile := strings.CutPrefix(strings.TrimSpace(text), "file:")
	if !isFile {
		return backup.ParseTyped(text)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return backup.Share{}, fmt.Errorf("cannot read share file %s: %v", path, err)
	}
	defer clear(data)
	if !backup.IsAgeFile(data) {
		return backup.ParseTyped(string(data))
	}
	if backup.IsPassphraseFile(data) {
		pass, err := in.Secret(SecretRequest{Actor: who, Prompt: "Passphrase of share file " + filepath.Base(path), Purpose: fmt.Sprintf("passphrase:%d", index)})
		if err != nil {
			return backup.Share{}, err
		}
		defer clear(pass)
		id, err := backup.PassphraseIdentity(pass)
		if err != nil {
			return backup.Share{}, err
		}
		return backup.DecryptAge(data, id)
	}
	if len(identities) == 0 {
		return backup.Share{}, fmt.Errorf("share file %s is encrypted to a public key and no identity was given\nhint: pass --identity FILE, or have the custodian decrypt it with age and type the share", path)
	}
	return backup.DecryptAge(data, identities...)
}

// decodeFacts decodes a step event's facts strictly into f; false for another kind of event
// or facts that do not fit.
func decodeFacts(ev transcript.Event, f any) bool {
	if ev.Kind != transcript.KindStep {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(ev.Facts))
	dec.DisallowUnknownFields()
	return dec.Decode(f) == nil
}
