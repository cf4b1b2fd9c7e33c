//go:build cgo

package ceremony

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/paper"
)

// loadOldBackup reads the backup a restore or re-share opens.
func (e *engine) loadOldBackup() error {
	if e.oldManifest != nil {
		return nil
	}
	raw, err := os.ReadFile(e.plan.Path(e.plan.Restore.Manifest))
	if err != nil {
		return err
	}
	// Checked again here, on the bytes that are used: the folders may have changed since the
	// plan was checked.
	m, st, exception, err := e.plan.checkOldSet(raw)
	if err != nil {
		return err
	}
	e.oldBags = handoutBags(st, m.SetID)
	if exception != "" {
		e.exception(stepCollect, exception)
	}
	if e.oldOthers, err = e.plan.setSiblings(m); err != nil {
		return err
	}
	e.oldManifest, e.oldManifestRaw = m, raw
	e.oldBlob, err = os.ReadFile(e.plan.Path(e.plan.Restore.Blob))
	return err
}

// pinOldBackup copies the backup the quorum opens into the record, so the collect event names
// the exact manifest and blob that the restore or re-share then uses from memory.
func (e *engine) pinOldBackup() (map[string]PinnedInput, []string, error) {
	inputs := map[string]PinnedInput{}
	var files []string
	type input struct {
		name, source, rel string
		data              []byte
	}
	ins := []input{
		{"manifest", e.plan.Restore.Manifest, InputsDir + "/backup/" + filepath.Base(e.plan.Restore.Manifest), e.oldManifestRaw},
		{"blob", e.plan.Restore.Blob, InputsDir + "/backup/" + filepath.Base(e.plan.Restore.Blob), e.oldBlob},
	}
	for _, k := range e.oldOthers {
		ins = append(ins, input{"manifest:" + k.label, k.manifest, InputsDir + "/backup/" + k.label + "/" + backup.ManifestFile, k.raw},
			input{"blob:" + k.label, k.blob, InputsDir + "/backup/" + k.label + "/" + backup.BlobFile, k.blobData})
	}
	for _, in := range ins {
		rel := in.rel
		p, err := e.pin(stepCollect, in.source, rel, in.data)
		if err != nil {
			return nil, nil, err
		}
		inputs[in.name] = p
		files = append(files, rel)
	}
	return inputs, files, nil
}

func (e *engine) collectShares() error {
	if err := e.loadOldBackup(); err != nil {
		return err
	}
	m := e.oldManifest
	e.collector = backup.NewCollector(m)
	var lastErr, accepted string
	var bags []BagInspection
	for e.collector.Need() > 0 {
		text, err := e.ui.EnterShare(ShareRequest{
			Progress:  fmt.Sprintf("%d of %d shares accepted", len(e.collector.Accepted()), m.M),
			LastError: lastErr, Accepted: accepted,
			SetID: m.SetID, Custodians: m.Custodians,
		})
		if err != nil {
			return err
		}
		sh, err := e.readShare(text, 0)
		index := sh.Index
		if err == nil {
			if _, err = e.collector.Add(sh); err == nil {
				accepted = acceptedShare(m, sh.Index)
			}
			sh.Zero()
		}
		if err == nil && len(e.oldBags) > 0 {
			b, err := e.inspectBag(m.Custodians[index-1], index)
			if err != nil {
				return err
			}
			bags = append(bags, *b)
		}
		if err != nil {
			lastErr, accepted = firstLine(err.Error()), ""
			e.exception(stepCollect, "share refused: "+lastErr)
			continue
		}
		lastErr = ""
		e.ui.Success(accepted)
	}
	inputs, files, err := e.pinOldBackup()
	if err != nil {
		return err
	}
	// The quorum that acted is named: the custodians whose shares were accepted.
	var names []string
	for _, i := range e.collector.Accepted() {
		names = append(names, m.Custodians[i-1])
	}
	e.steps[e.cur].Actor.Name = strings.Join(names, ", ")
	return e.record(stepCollect, CollectFacts{SetID: m.SetID, Accepted: e.collector.Accepted(), Threshold: m.M, Inputs: inputs, Bags: bags}, files...)
}

func (e *engine) restoreKey() error {
	if e.collector == nil {
		panic("ceremony: restore without collected shares")
	}
	label := e.plan.Key.Label
	exists, err := e.sess.LabelExists(label)
	if err != nil {
		return err
	}
	if exists {
		// A resume after the key was restored but before it was recorded: check and take it over.
		if e.key, err = e.sess.FindKey(label); err != nil {
			return err
		}
		id, err := e.sess.Identify(e.key)
		if err != nil {
			return err
		}
		if id.KCV != e.oldManifest.Key.KCV || id.Fingerprint != e.oldManifest.Key.Fingerprint {
			return errs.Unchanged(fmt.Sprintf("token already has a key %q that is not the backed-up key", label), "choose another key.label")
		}
		e.exception(stepRestoreKey, "key "+label+" was restored before the interruption; it is taken over, not restored again")
	} else {
		done := e.ui.Busy("Restoring the key into the HSM")
		e.key, err = backup.Restore(e.sess, e.oldManifest, e.oldBlob, e.collector, label)
		done()
		if err != nil {
			return err
		}
	}
	facts, err := e.keyFacts()
	if err != nil {
		return err
	}
	facts.BackupSet = e.oldManifest.SetID
	if w := e.plan.otherLabel(e.oldManifest); w != "" {
		e.exception(stepRestoreKey, w)
	}
	if err := e.signOffKey(stepRestoreKey, facts); err != nil {
		return err
	}
	return e.record(stepRestoreKey, facts)
}

// backupPhase makes a share set, hands each share to its custodian, has each custodian prove
// their share, and only then seals the set. An unsealed set left by an interruption is voided.
func (e *engine) backupPhase() error {
	if err := e.voidUnsealedSets(); err != nil {
		return err
	}
	step := e.plan.keyStepID(stepBackup)
	opts := backup.Options{Threshold: e.plan.Backup.Threshold, AllowLarge: e.plan.Backup.AllowLarge, Key: e.backupKey()}
	for _, c := range e.plan.Backup.Custodians {
		opts.Custodians = append(opts.Custodians, c.Name)
	}
	var bs []*backup.Backup
	var err error
	done := e.ui.Busy("Making the backup and the share set")
	if e.plan.Kind == KindReshare {
		opts.Replaces = e.oldManifest.SetID
		if opts.Wrap, err = e.backupMech(e.plan, step); err == nil {
			bs, err = backup.Reshare(e.sess, e.oldSet(), e.collector, opts)
		}
	} else {
		bs, err = e.backupKeys(step, opts)
	}
	done()
	if err != nil {
		return err
	}
	b := bs[0] // the share set, the same in each
	defer b.Zero()
	if err := e.recordIntent(step, Intent{SetID: b.Manifest.SetID}); err != nil {
		return err
	}
	dir := "backup-" + b.Manifest.SetID
	files, backedUp, err := e.writeSet(dir, bs)
	if err != nil {
		return err
	}
	for i, c := range e.plan.Backup.Custodians {
		if i > 0 {
			e.next()
		}
		facts := HandoutFacts{Custodian: c.Name, Index: i + 1, Delivery: c.Delivery, SetID: b.Manifest.SetID, Commitment: b.Manifest.Commitments[i]}
		file, sum, err := e.handout(b.Manifest.SetID, i, c, b.Shares[i])
		if err != nil {
			return err
		}
		// The file is the custodian's, not the record's: the record keeps where it went and its hash.
		if file != "" {
			facts.HandoutFile, facts.HandoutSHA256 = file, sum
		}
		if e.plan.Backup.Bags {
			if facts.Bag, err = e.handoutBag(c, i+1); err != nil {
				return err
			}
		}
		if c.Delivery == DeliveryAgePassphrase {
			facts.Passphrase = fmt.Sprintf("%d words made by the tool (%d bits)", backup.PassphraseWords, int(float64(backup.PassphraseWords)*backup.WordBits))
			if c.Passphrase == PassphraseChosen {
				facts.Passphrase = fmt.Sprintf("chosen by the custodian, at least %d bits by the conservative estimate", backup.MinPassphraseBits)
			}
			facts.PassphraseConfirmed = "typed-back by " + c.Name
		}
		if err := e.record(e.steps[e.cur].ID, facts); err != nil {
			return err
		}
	}
	for i, c := range e.plan.Backup.Custodians {
		e.next()
		accepted := ""
		if i > 0 {
			accepted = acceptedShare(&b.Manifest, i)
		}
		if err := e.verifyShare(&b.Manifest, i, c, accepted); err != nil {
			return err
		}
		if err := e.record(e.steps[e.cur].ID, VerifyShareFacts{Custodian: c.Name, Index: i + 1, SetID: b.Manifest.SetID}); err != nil {
			return err
		}
	}
	e.next()
	// "replaces" is the signed fact that supersedes the old set: restore refuses it from now on.
	facts := BackupFacts{
		SetID: b.Manifest.SetID, Threshold: b.Manifest.M, Custodians: b.Manifest.Custodians,
		BackupKeyKCV: b.Manifest.BackupKeyKCV, Replaces: b.Manifest.Replaces, Keys: backedUp,
	}
	if backedUp == nil {
		facts.Label, facts.Spec, facts.KCV, facts.Fingerprint = b.Manifest.Key.Label, b.Manifest.Key.Spec, b.Manifest.Key.KCV, b.Manifest.Key.Fingerprint
	}
	err = e.record(step, facts, files...)
	if err == nil && b.Manifest.Replaces != "" {
		e.ui.Notice(fmt.Sprintf("share set %s is superseded by set %s: restores refuse it from now on; its custodians should destroy their old shares (files, paper, photographs)", b.Manifest.Replaces, b.Manifest.SetID))
	}
	return err
}

// oldSet is every key a re-share opens, in the order of the old set's manifests: the plan's, and
// for a set shared by several keys, the others.
func (e *engine) oldSet() []backup.Opened {
	set := []backup.Opened{{Manifest: e.oldManifest, Blob: e.oldBlob}}
	for _, k := range e.oldOthers {
		set = append(set, backup.Opened{Manifest: k.m, Blob: k.blobData})
	}
	order := e.oldManifest.SharedWith
	slices.SortFunc(set, func(a, b backup.Opened) int {
		return slices.Index(order, a.Manifest.Key.Label) - slices.Index(order, b.Manifest.Key.Label)
	})
	return set
}

// backupMech is the mechanism that wraps the key of v under the backup key; a weaker one the
// plan allows is recorded as an exception of step.
func (e *engine) backupMech(v *Plan, step string) (string, error) {
	mech, why, err := v.backupWrap(e.sess.Capabilities())
	if err == nil && mech == hsmspec.BackupCBCPad {
		e.exceptionOnce(step, "backup.allow_weaker_wrap: "+why)
	}
	return mech, err
}

// backupKeys backs up the plan's key, or, for a set shared by the keys of a keys: plan, every
// key under one backup key.
func (e *engine) backupKeys(step string, opts backup.Options) ([]*backup.Backup, error) {
	views := []*Plan{e.plan}
	if e.plan.scope == "" && len(e.plan.Keys) > 0 {
		views = e.plan.Views()
	}
	keys := make([]backup.Backed, len(views))
	for i, v := range views {
		mech, err := e.backupMech(v, step)
		if err != nil {
			return nil, err
		}
		k, err := e.keyOf(v)
		if err != nil {
			return nil, err
		}
		keys[i] = backup.Backed{Key: k, Wrap: mech}
	}
	return backup.CreateShared(e.sess, keys, opts)
}

// keyOf finds the key of view v: the current one, or for a view of another key, that key.
func (e *engine) keyOf(v *Plan) (*hsm.Key, error) {
	if v.scope != e.plan.scope {
		defer e.inScope(v.scope)()
	}
	err := e.loadKey()
	return e.key, err
}

// writeSet writes the manifest and blob of a share set into dir: dir/manifest.json and
// dir/blob for a set of one key, dir/LABEL/manifest.json and dir/LABEL/blob for each key of a
// shared set. It returns the files written and, for a shared set, the keys it backs up.
func (e *engine) writeSet(dir string, bs []*backup.Backup) (files []string, keys []BackedUpKey, err error) {
	if len(bs) == 1 {
		if err := backup.WriteSet(filepath.Join(e.out, dir), bs[0]); err != nil {
			return nil, nil, err
		}
		return []string{filepath.Join(dir, backup.ManifestFile), filepath.Join(dir, backup.BlobFile)}, nil, nil
	}
	if err := os.Mkdir(filepath.Join(e.out, dir), 0o700); err != nil {
		return nil, nil, err
	}
	for _, b := range bs {
		k := b.Manifest.Key
		sub := filepath.Join(dir, k.Label)
		if err := backup.WriteSet(filepath.Join(e.out, sub), b); err != nil {
			return nil, nil, err
		}
		files = append(files, filepath.Join(sub, backup.ManifestFile), filepath.Join(sub, backup.BlobFile))
		keys = append(keys, BackedUpKey{Label: k.Label, Spec: k.Spec, KCV: k.KCV, Fingerprint: k.Fingerprint, Manifest: filepath.ToSlash(filepath.Join(sub, backup.ManifestFile))})
	}
	return files, keys, atomicfile.SyncDir(filepath.Join(e.out, dir))
}

// voidUnsealedSets destroys each share set an interruption left unsealed, so that none of its
// shares can ever be mistaken for the real set: its manifest and blob in the ceremony folder and
// its share files in the handouts folder are deleted. The deletion is recorded first, naming every
// file, then done. Deleting is not wiping (flash media keep old blocks), and custodians may have
// copied their shares, so the record and the screen say every copy must be destroyed.
func (e *engine) voidUnsealedSets() error {
	entries, err := os.ReadDir(e.out)
	if err != nil {
		return err
	}
	sealed, err := e.sealedSets()
	if err != nil {
		return err
	}
	for _, ent := range entries {
		name := ent.Name()
		setID := strings.TrimPrefix(name, "backup-")
		if !strings.HasPrefix(name, "backup-") || !ent.IsDir() || sealed[setID] {
			continue
		}
		if e.plan.Kind == KindReshare && e.plan.Path(e.plan.Restore.Manifest) == filepath.Join(e.out, name, backup.ManifestFile) {
			continue
		}
		dirs := []string{filepath.Join(e.out, name), filepath.Join(e.plan.HandoutsDir(), name)}
		record, err := filesUnder(e.out, dirs[0])
		if err != nil {
			return err
		}
		handouts, err := filesUnder("", dirs[1])
		if err != nil {
			return err
		}
		note := fmt.Sprintf("share set %s was not sealed before the interruption; it is void and its files are deleted. Deleting does not wipe flash media and copies may exist: custodians must destroy every copy of a share of set %s (files, paper, photographs)", setID, setID)
		_, err = e.tr.Append(transcript.Entry{Step: stepVoid + ":" + setID, Kind: transcript.KindStep, Actor: transcript.Actor(e.plan.first(RoleAdministrator)),
			Facts: VoidSetFacts{SetID: setID, DeletedRecordFiles: record, DeletedHandouts: handouts, Note: note}})
		if err != nil {
			return fmt.Errorf("cannot write the transcript: %w\nhint: nothing was deleted; free disk space and resume", err)
		}
		for _, dir := range dirs {
			if err := removeFolder(dir); err != nil {
				return fmt.Errorf("share set %s is void but %v\nhint: delete %s by hand; the record already names the set void", setID, err, dir)
			}
		}
		e.ui.Record(fmt.Sprintf("void-set: set %s deleted (%d files)", setID, len(record)+len(handouts)))
		e.ui.Notice(note)
	}
	return nil
}

// sealedSets are the share sets this ceremony's transcript records as sealed.
func (e *engine) sealedSets() (map[string]bool, error) {
	sealed := map[string]bool{}
	for _, v := range e.whole.shareSets() {
		step := v.keyStepID(stepBackup)
		if !e.done[step] && e.recorded[step].Step == "" {
			continue
		}
		ev, err := e.recordedEvent(step)
		if err != nil {
			return nil, err
		}
		var f BackupFacts
		if err := json.Unmarshal(ev.Facts, &f); err != nil {
			return nil, fmt.Errorf("the %s event cannot be read: %v", step, err)
		}
		sealed[f.SetID] = true
	}
	return sealed, nil
}

// filesUnder lists the files in dir and its folders, relative to base ("" for full paths); a
// folder that does not exist has none.
func filesUnder(base, dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist) && path == dir:
			return filepath.SkipAll
		case err != nil:
			return err
		case d.IsDir():
			return nil
		case base != "":
			path, err = filepath.Rel(base, path)
		}
		files = append(files, path)
		return err
	})
	return files, err
}

// removeFolder deletes a folder of plain files and makes the deletion durable; a folder that is
// already gone is fine.
func removeFolder(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

// handout gives share i to its custodian: on the screen, or as an age file in the handouts
// folder, outside the ceremony folder. It returns the file and its SHA-256 for the record.
func (e *engine) handout(setID string, i int, c CustodianPlan, sh backup.Share) (file, sum string, err error) {
	who := Actor{Role: RoleCustodian, Name: c.Name}
	n := len(e.plan.Backup.Custodians)
	label := e.handoutLabel(setID)
	if c.Delivery == DeliveryTyped || c.Delivery == DeliveryQR {
		if err := e.checkRecording(who, "share"); err != nil {
			return "", "", err
		}
		return "", "", e.ui.ShowShare(ShareHandout{Custodian: who, Index: i + 1, N: n, Share: sh, QR: c.Delivery == DeliveryQR, Label: label})
	}
	if c.Delivery == DeliveryPrint {
		return e.printCard(i, c, sh, label)
	}
	var r age.Recipient
	if c.Delivery == DeliveryAgePassphrase {
		pass, err := e.passphrase(setID, i, c)
		if err != nil {
			return "", "", err
		}
		r, err = backup.PassphraseRecipient(pass)
		clear(pass)
		if err != nil {
			return "", "", err
		}
	} else {
		if r, err = backup.ParseRecipient(c.Recipient); err != nil {
			return "", "", fmt.Errorf("custodian %s: %w", c.Name, err)
		}
	}
	data, err := sh.EncryptAge(r)
	if err != nil {
		return "", "", err
	}
	dir, err := e.handoutsSetDir(setID)
	if err != nil {
		return "", "", err
	}
	file = filepath.Join(dir, shareFileName(i+1, c.Name))
	if err := writeOnce(file, data); err != nil {
		return "", "", fmt.Errorf("cannot write %s's share file: %w\nhint: check the handouts folder (backup.handouts in the plan) is writable", c.Name, err)
	}
	digest := sha256.Sum256(data)
	return file, hex.EncodeToString(digest[:]), e.ui.ShowShare(ShareHandout{Custodian: who, Index: i + 1, N: n, File: file, Label: label})
}

// checkRecording has the custodian confirm before their share or passphrase is shown into a
// session that looks recorded, and records that it was, why, and who went on.
func (e *engine) checkRecording(who Actor, what string) error {
	signs := e.ui.Recording()
	if len(signs) == 0 {
		return nil
	}
	why := strings.Join(signs, "; ")
	if _, err := e.confirm(e.steps[e.cur].ID, ConfirmRequest{Actor: who,
		Prompt: fmt.Sprintf("This session looks recorded: show your %s anyway?", what),
		Detail: fmt.Sprintf("%s. A recording keeps every %s shown. Stop the recording first, or type yes to show it anyway.", why, what),
	}, ""); err != nil {
		return err
	}
	e.exceptionBy(e.steps[e.cur].ID, who, fmt.Sprintf("the %s was shown although the session looked recorded (%s); %s confirmed", what, why, who))
	return nil
}

// printCard writes share i as a one-page PDF share card into the handouts folder, to be printed
// offline and deleted; the record keeps its path and SHA-256 (the card is the same bytes for the
// same share, so a reprint can be checked against it).
func (e *engine) printCard(i int, c CustodianPlan, sh backup.Share, label HandoutLabel) (file, sum string, err error) {
	qr, err := sh.QRPNG()
	if err != nil {
		return "", "", err
	}
	defer clear(qr)
	n := len(e.plan.Backup.Custodians)
	card, err := paper.ShareCard{Ceremony: label.Ceremony, KeyLabel: label.KeyLabel, SetID: label.SetID, Date: label.Date,
		Custodian: c.Name, Index: i + 1, Threshold: label.Threshold, N: n, Typed: sh.Typed(), QRPNG: qr}.PDF()
	if err != nil {
		return "", "", err
	}
	defer clear(card)
	dir, err := e.handoutsSetDir(label.SetID)
	if err != nil {
		return "", "", err
	}
	file = filepath.Join(dir, fmt.Sprintf("share-%d-%s.pdf", i+1, fileSafe(c.Name)))
	if err := writeOnce(file, card); err != nil {
		return "", "", fmt.Errorf("cannot write %s's share card: %w\nhint: check the handouts folder (backup.handouts in the plan) is writable", c.Name, err)
	}
	digest := sha256.Sum256(card)
	who := Actor{Role: RoleCustodian, Name: c.Name}
	return file, hex.EncodeToString(digest[:]), e.ui.ShowShare(ShareHandout{Custodian: who, Index: i + 1, N: n, File: file, Label: label})
}

// handoutLabel is what each custodian copies with their share of set setID.
func (e *engine) handoutLabel(setID string) HandoutLabel {
	return HandoutLabel{Ceremony: e.plan.Ceremony, KeyLabel: e.plan.setKeys(), SetID: setID, Threshold: e.plan.Backup.Threshold, Date: e.Now().Format(time.DateOnly)}
}

// passphrase returns the passphrase custodian i's share file is encrypted to, once the custodian
// has typed it back: made by the tool (at least MinPassphraseBits by construction) and shown to
// the custodian alone, or, when the plan says so, chosen by them. A failed read-back is recorded
// without the passphrase. The caller clears the result.
func (e *engine) passphrase(setID string, i int, c CustodianPlan) ([]byte, error) {
	who := Actor{Role: RoleCustodian, Name: c.Name}
	chosen := c.Passphrase == PassphraseChosen
	readBack := SecretRequest{Actor: who, Prompt: "Type your passphrase back, the words separated by spaces", Purpose: fmt.Sprintf("passphrase-readback:%d", i+1)}
	var pass []byte
	var err error
	if chosen {
		readBack.Prompt = "Type your passphrase again"
	} else if pass, err = backup.GeneratePassphrase(rand.Reader); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if chosen {
			if pass, err = e.choosePassphrase(i, c); err != nil {
				return nil, err
			}
		} else if err := e.checkRecording(who, "passphrase"); err != nil {
			clear(pass)
			return nil, err
		} else if err := e.ui.ShowShare(ShareHandout{Custodian: who, Index: i + 1, N: len(e.plan.Backup.Custodians), Passphrase: pass, Label: e.handoutLabel(setID)}); err != nil {
			clear(pass)
			return nil, err
		}
		typed, err := e.ui.Secret(readBack)
		if err != nil {
			clear(pass)
			return nil, err
		}
		same := backup.SamePassphrase(pass, typed)
		clear(typed)
		if same {
			return pass, nil
		}
		e.exception(e.steps[e.cur].ID, fmt.Sprintf("%s's passphrase was not typed back correctly (attempt %d)", c.Name, attempt))
		if attempt == 3 {
			clear(pass)
			return nil, fmt.Errorf("%s's passphrase was not typed back correctly after 3 attempts\nhint: the share set is not sealed; resume to make a new one", c.Name)
		}
		if chosen {
			clear(pass)
		}
	}
}

// choosePassphrase asks custodian i for a passphrase of their own and refuses one weaker than
// MinPassphraseBits by backup's conservative estimate; each refusal is recorded with its reason.
func (e *engine) choosePassphrase(i int, c CustodianPlan) ([]byte, error) {
	req := SecretRequest{Actor: Actor{Role: RoleCustodian, Name: c.Name}, Purpose: fmt.Sprintf("passphrase:%d", i+1),
		Prompt: fmt.Sprintf("Choose a passphrase for your share file (at least %d bits: 12 or more unrelated words)", backup.MinPassphraseBits)}
	for attempt := 1; ; attempt++ {
		pass, err := e.ui.Secret(req)
		if err != nil {
			return nil, err
		}
		weak := backup.CheckChosenPassphrase(pass)
		if weak == nil {
			return pass, nil
		}
		clear(pass)
		reason := firstLine(weak.Error())
		e.exception(e.steps[e.cur].ID, fmt.Sprintf("%s's chosen passphrase was refused (attempt %d): %s", c.Name, attempt, reason))
		if attempt == 3 {
			return nil, fmt.Errorf("%s's chosen passphrase was refused 3 times: %s\nhint: the share set is not sealed; resume and choose a longer one, or remove passphrase: chosen from the plan so the tool makes one", c.Name, reason)
		}
		req.Prompt = fmt.Sprintf("That passphrase was refused: %s. Choose a longer one (12 or more unrelated words)", reason)
	}
}

// handoutsSetDir makes, on the first share file of a set, the set's folder in the handouts
// folder. The folder is resolved through any symbolic link first: a handouts folder that leads
// into the ceremony folder would put shares into the record.
func (e *engine) handoutsSetDir(setID string) (string, error) {
	root := e.plan.HandoutsDir()
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("cannot create the handouts folder: %v\nhint: mount the removable medium named in backup.handouts, or create the folder", err)
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("cannot open the handouts folder: %v", err)
	}
	out, err := filepath.EvalSymlinks(e.out)
	if err != nil {
		return "", err
	}
	if within(real, out) {
		return "", fmt.Errorf("handouts folder %s leads to %s, inside the ceremony folder; no share file was written\nhint: share files are handed out, never part of the record; name a folder outside the output in backup.handouts", root, real)
	}
	dir := filepath.Join(real, "backup-"+setID)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("cannot create %s: %v", dir, err)
	}
	return filepath.Join(root, "backup-"+setID), nil
}

// shareFileName names share index's age file after its custodian.
func shareFileName(index int, custodian string) string {
	return fmt.Sprintf("share-%d-%s.age", index, fileSafe(custodian))
}

func (e *engine) verifyShare(m *backup.Manifest, i int, c CustodianPlan, accepted string) error {
	who := Actor{Role: RoleCustodian, Name: c.Name}
	var lastErr string
	for attempt := 1; ; attempt++ {
		text, err := e.ui.EnterShare(ShareRequest{Custodian: who, Progress: fmt.Sprintf("share %d of %d", i+1, len(m.Custodians)), LastError: lastErr,
			Accepted: accepted, SetID: m.SetID, Replaced: m.Replaces, Custodians: m.Custodians})
		if err != nil {
			return err
		}
		accepted = ""
		sh, err := e.readShare(text, i+1)
		if err == nil {
			switch {
			case m.Replaces != "" && sh.SetID == m.Replaces:
				err = errors.New(SupersededShare(m.Replaces, m.SetID))
			case sh.Index != i+1:
				err = fmt.Errorf("this is share %d, not %s's share %d", sh.Index, c.Name, i+1)
			default:
				err = backup.Verify(m, sh)
			}
			sh.Zero()
		}
		if err == nil {
			e.ui.Success(acceptedShare(m, i+1))
			return nil
		}
		lastErr = firstLine(err.Error())
		e.exception(e.steps[e.cur].ID, fmt.Sprintf("%s's share was not read back correctly (attempt %d): %s", c.Name, attempt, lastErr))
		if attempt == 3 {
			return fmt.Errorf("%s's share could not be read back after 3 attempts: %s\nhint: the share set is not sealed; resume to make a new one", c.Name, lastErr)
		}
	}
}

// acceptedShare says share index (from 1) of m was taken, naming its custodian.
func acceptedShare(m *backup.Manifest, index int) string {
	return fmt.Sprintf("accepted: share %d (%s)", index, m.Custodians[index-1])
}

// readShare turns what a custodian entered into a share (readShareText), asking the actor of
// the running step for a share file's passphrase.
func (e *engine) readShare(text string, index int) (backup.Share, error) {
	return readShareText(text, e.ui, e.actor(), index, e.Identities)
}
