//go:build cgo

package backup

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/vault/shamir"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// Options says how to split a backup key.
type Options struct {
	Threshold  int       // M: shares needed to restore, at least 2
	Custodians []string  // one share per custodian, in this order; N = len(Custodians)
	AllowLarge bool      // allow more than 16 custodians (never more than 255)
	Replaces   string    // the set ID this set replaces, or ""; Reshare sets it
	Created    time.Time // the manifest's creation time; zero means now
	// Key is the backup key, made beforehand by NewKey (trusted, by the security officer, when
	// the target key is CKA_WRAP_WITH_TRUSTED). Nil makes an untrusted one here, which can
	// wrap only a key made without CKA_WRAP_WITH_TRUSTED. Create and Reshare zero and destroy it.
	Key *Key
	// Wrap is the mechanism that wraps the key under the backup key (hsmspec.BackupWrap picks
	// it); empty means CKM_AES_KEY_WRAP_PAD.
	Wrap string
}

// check refuses each bad bound with its own message.
func (o Options) check() error {
	m, n := o.Threshold, len(o.Custodians)
	switch {
	case n == 0:
		return errors.New("no custodians\nhint: name at least 2 custodians, one share each")
	case m < 2:
		return fmt.Errorf("threshold %d is too low: restoring must need at least 2 shares\nhint: choose a threshold from 2 to the number of custodians", m)
	case n < m:
		return fmt.Errorf("threshold %d is more than the %d custodians\nhint: choose a threshold of at most %d, or name more custodians", m, n, n)
	case n > maxShares:
		return fmt.Errorf("%d custodians is more than %d, the most shares over GF(2^8)\nhint: name at most %d custodians", n, maxShares, maxShares)
	case n > defaultMaxShares && !o.AllowLarge:
		return fmt.Errorf("%d custodians is more than %d\nhint: name at most %d custodians, or allow a large quorum explicitly", n, defaultMaxShares, defaultMaxShares)
	case o.Replaces != "" && !validSetID(o.Replaces):
		return fmt.Errorf("replaced set %q is not a set ID", o.Replaces)
	}
	return checkCustodians(o.Custodians)
}

// Create backs up key: a 256-bit backup key from the token's RNG becomes a session key, wraps
// key with CKM_AES_KEY_WRAP_PAD, and is split into one share per custodian, then zeroed and
// destroyed. Before returning, the blob is opened once into a session object and checked.
func Create(s *hsm.Session, key *hsm.Key, opts Options) (*Backup, error) {
	b, err := CreateShared(s, []Backed{{Key: key, Wrap: opts.Wrap}}, opts)
	if err != nil {
		return nil, err
	}
	return b[0], nil
}

// Backed is a key to back up and the mechanism that wraps it under the backup key (hsmspec.BackupWrap
// picks it); empty means CKM_AES_KEY_WRAP_PAD.
type Backed struct {
	Key  *hsm.Key
	Wrap string
}

// CreateShared backs up several keys as Create does one, under one backup key split once: one
// share set, with a manifest and blob per key. The manifests carry the same set ID and
// commitments, and name every key of the set (SharedWith), so that a re-share, which must carry
// all of them, can tell. The Backups share one slice of shares. opts.Wrap is not used.
func CreateShared(s *hsm.Session, keys []Backed, opts Options) ([]*Backup, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	entries := make([]entry, len(keys))
	for i, k := range keys {
		id, err := s.Identify(k.Key)
		if err != nil {
			return nil, fmt.Errorf("identify key %q: %w", k.Key.Label, err)
		}
		mk := ManifestKey{Label: k.Key.Label, Spec: k.Key.Spec.String(), KCV: id.KCV}
		if !k.Key.IsSecret() {
			mk = ManifestKey{Label: k.Key.Label, Spec: k.Key.Spec.String(), Fingerprint: id.Fingerprint, PublicKey: id.PublicKeyDER}
		}
		if err := mk.validate(); err != nil {
			return nil, err
		}
		entries[i] = entry{key: k.Key, mk: mk, wrap: k.Wrap}
	}
	return create(s, entries, opts)
}

// entry is a key create backs up: the key, what its manifest says of it, and the mechanism
// that wraps it under the backup key.
type entry struct {
	key  *hsm.Key
	mk   ManifestKey
	wrap string
}

func create(s *hsm.Session, entries []entry, opts Options) ([]*Backup, error) {
	setID, err := newSetID()
	if err != nil {
		return nil, err
	}
	for setID == opts.Replaces {
		if setID, err = newSetID(); err != nil {
			return nil, err
		}
	}
	bk := opts.Key
	if bk == nil {
		if bk, err = NewKey(s, false, ""); err != nil {
			return nil, err
		}
	}
	defer bk.Destroy(s)
	var sharedWith []string
	if len(entries) > 1 {
		for _, e := range entries {
			sharedWith = append(sharedWith, e.mk.Label)
		}
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	backups := make([]*Backup, len(entries))
	for i, e := range entries {
		blob, wrapName, err := wrapChecked(s, bk, e, setID)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(blob)
		backups[i] = &Backup{
			Manifest: Manifest{
				Format: ManifestFormat, SetID: setID, M: opts.Threshold, N: len(opts.Custodians),
				Custodians: append([]string(nil), opts.Custodians...), Key: e.mk, SharedWith: sharedWith, BackupKeyKCV: bk.KCV,
				BlobSHA256: hex.EncodeToString(sum[:]), Wrap: wrapName, Replaces: opts.Replaces, Created: created.UTC().Truncate(time.Second),
			},
			Blob: blob,
		}
	}

	n := len(opts.Custodians)
	parts, err := shamir.Split(bk.raw, n, opts.Threshold)
	if err != nil {
		return nil, fmt.Errorf("split the backup key: %v", err)
	}
	var shares []Share
	var commitments []string
	for i, p := range parts {
		sh := Share{SetID: setID, Index: i + 1, M: opts.Threshold, N: n, Custodian: opts.Custodians[i], Value: p}
		shares = append(shares, sh)
		commitments = append(commitments, commitment(setID, sh.Index, p))
	}
	for _, b := range backups {
		b.Shares, b.Manifest.Commitments = shares, commitments
		if err := b.Manifest.Validate(); err != nil {
			b.Zero()
			return nil, err
		}
	}
	return backups, nil
}

// wrapChecked wraps e's key under the backup key and proves the blob opens to the same key
// before anyone relies on it. It returns the blob and the manifest's name of the mechanism
// ("" for CKM_AES_KEY_WRAP_PAD).
func wrapChecked(s *hsm.Session, bk *Key, e entry, setID string) (blob []byte, wrapName string, err error) {
	mech := cmp.Or(e.wrap, hsmspec.BackupKWP)
	blob, err = s.WrapBackup(mech, bk.KEK, e.key)
	if err != nil {
		return nil, "", fmt.Errorf("wrap key %q under the backup key: %w", e.key.Label, err)
	}
	if mech != hsmspec.BackupKWP {
		wrapName = mech
	}
	probe, err := unwrapChecked(s, bk.KEK, blob, e.mk, wrapName, "keyceremony backup check "+setID, false)
	if err != nil {
		return nil, "", err
	}
	if err := s.Destroy(probe); err != nil {
		return nil, "", fmt.Errorf("destroy the session copy made to check the blob: %w", err)
	}
	return blob, wrapName, nil
}

// Key is a backup key: its bytes, to split into shares, and the session object that wraps
// under it, with its check value. Kept is its wrap-only token copy, when the plan keeps one.
type Key struct {
	raw  []byte
	KEK  *hsm.Key
	KCV  string
	Kept *hsm.Key
}

// NewKey draws a 256-bit backup key from the token's RNG and imports it as a session
// key-encryption key (wrap and unwrap only), CKA_TRUSTED when trusted (the security officer must
// be logged in, and the user logs in again before Create). A non-empty keep labels a token copy
// that can wrap but never unwrap (see hsm.StoreKEK). The bytes stay in host memory until
// Create or Reshare split them, or Zero.
func NewKey(s *hsm.Session, trusted bool, keep string) (*Key, error) {
	raw := make([]byte, KeySize)
	if _, err := io.ReadFull(s.Rand(), raw); err != nil {
		return nil, fmt.Errorf("draw the backup key from the token's RNG: %w", err)
	}
	k := &Key{raw: raw, KCV: aesKCV(raw)}
	kek, err := s.ImportSessionAES(raw, trusted)
	if err == nil {
		k.KEK = kek
		err = checkKCV(s, kek, k.KCV)
	}
	if err == nil && keep != "" {
		if k.Kept, err = s.StoreKEK(raw, keep, trusted); err == nil {
			err = checkKCV(s, k.Kept, k.KCV)
		}
	}
	if err != nil {
		k.Destroy(s)
		if k.Kept != nil {
			s.Destroy(k.Kept)
		}
		return nil, fmt.Errorf("make the backup key in the token: %w", err)
	}
	return k, nil
}

// Zero clears the key's bytes.
func (k *Key) Zero() { clear(k.raw) }

// Destroy zeroes the bytes and destroys the session object; the kept copy stays.
func (k *Key) Destroy(s *hsm.Session) {
	k.Zero()
	if k.KEK != nil {
		s.Destroy(k.KEK)
	}
}

func checkKCV(s *hsm.Session, k *hsm.Key, kcv string) error {
	id, err := s.Identify(k)
	if err == nil && !strings.EqualFold(id.KCV, kcv) {
		err = errors.New("the token's KCV of the backup key differs from the one computed on the host")
	}
	return err
}

// importBackupKey makes raw a session AES key (the caller clears raw) and checks the token's
// KCV of it against kcv.
func importBackupKey(s *hsm.Session, raw []byte, kcv string) (*hsm.Key, error) {
	kek, err := s.ImportSessionAES(raw, false)
	if err != nil {
		return nil, fmt.Errorf("import the backup key as a session key: %w", err)
	}
	if err := checkKCV(s, kek, kcv); err != nil {
		s.Destroy(kek)
		return nil, fmt.Errorf("check the backup key in the token: %w", err)
	}
	return kek, nil
}

// unwrapChecked opens blob under kek as a token or session object labelled label, with mk's
// spec, and checks it is mk's key (KCV, or a proof of the private key against mk's public key).
// A key that fails the check is destroyed.
func unwrapChecked(s *hsm.Session, kek *hsm.Key, blob []byte, mk ManifestKey, wrap, label string, token bool) (*hsm.Key, error) {
	spec, err := hsmspec.ParseKeySpec(mk.Spec)
	if err != nil {
		return nil, fmt.Errorf("manifest key spec: %w", err)
	}
	k, err := s.UnwrapBackup(cmp.Or(wrap, hsmspec.BackupKWP), kek, blob, label, spec, token)
	if err != nil {
		return nil, fmt.Errorf("unwrap the backup blob: %w", err)
	}
	if err := checkKey(s, k, mk); err != nil {
		s.Destroy(k)
		return nil, err
	}
	return k, nil
}

func checkKey(s *hsm.Session, k *hsm.Key, mk ManifestKey) error {
	if k.IsSecret() {
		id, err := s.Identify(k)
		if err != nil {
			return fmt.Errorf("identify the unwrapped key: %w", err)
		}
		if !strings.EqualFold(id.KCV, mk.KCV) {
			return fmt.Errorf("the unwrapped key's KCV %s differs from the manifest's %s for %q", id.KCV, mk.KCV, mk.Label)
		}
		return nil
	}
	if err := s.ProvePrivateKey(k, mk.PublicKey); err != nil {
		return fmt.Errorf("the unwrapped private key does not match the manifest's public key of %q: %w", mk.Label, err)
	}
	return nil
}

// openBlob checks blob against m, rebuilds the backup key from c and imports it as a session
// key; the host copy is cleared before it returns.
func openBlob(s *hsm.Session, m *Manifest, blob []byte, c *Collector) (*hsm.Key, error) {
	if err := m.checkBlob(blob); err != nil {
		return nil, err
	}
	if c.m.SetID != m.SetID {
		return nil, fmt.Errorf("the shares were collected for set %s, not set %s", c.m.SetID, m.SetID)
	}
	raw, err := c.Combine()
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return importBackupKey(s, raw, m.BackupKeyKCV)
}

// Restore rebuilds the backup key from the collected shares and unwraps the blob into the
// session's token as a token key labelled label (the manifest's label when ""), with the
// manifest's spec. The restored key must match the manifest: its KCV, or for a key pair a
// signature checked against the recorded public key; otherwise it is destroyed. An existing
// label is refused before anything else happens. The collector keeps its shares: call c.Zero
// when done with them.
func Restore(s *hsm.Session, m *Manifest, blob []byte, c *Collector, label string) (*hsm.Key, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if label == "" {
		label = m.Key.Label
	}
	exists, err := s.LabelExists(label)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, fmt.Errorf("a key labelled %q already exists on token %q; nothing was restored\nhint: restore under another label, or into another token", label, s.Token().Label)
	}
	kek, err := openBlob(s, m, blob, c)
	if err != nil {
		return nil, err
	}
	defer s.Destroy(kek)
	return unwrapChecked(s, kek, blob, m.Key, m.Wrap, label, true)
}

// Opened is a backed-up key a re-share opens: its manifest and blob.
type Opened struct {
	Manifest *Manifest
	Blob     []byte
}

// Reshare makes a new share set for a new roster from a quorum of the old set: each blob is
// opened into a session object (never a token object), checked, and backed up again under a new
// backup key, so the old shares cannot open the new blobs. A set shared by several keys is
// re-shared whole: set holds every key its manifests name (shared_with), and the new set backs
// up all of them, as CreateShared does. The new manifests name the set they replace
// (opts.Replaces is set). The session objects are destroyed before Reshare returns; the
// collector keeps its shares until c.Zero.
func Reshare(s *hsm.Session, set []Opened, c *Collector, opts Options) ([]*Backup, error) {
	if err := wholeSet(set); err != nil {
		return nil, err
	}
	first := set[0].Manifest
	opts.Replaces = first.SetID
	if err := opts.check(); err != nil {
		return nil, err
	}
	kek, err := openBlob(s, first, set[0].Blob, c)
	if err != nil {
		return nil, err
	}
	defer s.Destroy(kek)
	entries := make([]entry, len(set))
	for i, o := range set {
		if err := o.Manifest.checkBlob(o.Blob); err != nil {
			return nil, err
		}
		key, err := unwrapChecked(s, kek, o.Blob, o.Manifest.Key, o.Manifest.Wrap, "keyceremony reshare "+first.SetID, false)
		if err != nil {
			return nil, err
		}
		defer s.Destroy(key)
		entries[i] = entry{key: key, mk: o.Manifest.Key, wrap: opts.Wrap}
	}
	return create(s, entries, opts)
}

// wholeSet checks that set is every key of one share set: valid manifests of one set and backup
// key, and, for a set shared by several keys, exactly the keys its manifests name.
func wholeSet(set []Opened) error {
	if len(set) == 0 {
		return errors.New("nothing to re-share")
	}
	first := set[0].Manifest
	labels := map[string]bool{}
	for _, o := range set {
		m := o.Manifest
		if err := m.Validate(); err != nil {
			return err
		}
		if m.SetID != first.SetID || m.BackupKeyKCV != first.BackupKeyKCV || !slices.Equal(m.SharedWith, first.SharedWith) || !slices.Equal(m.Commitments, first.Commitments) {
			return fmt.Errorf("the manifests of %q and %q are not of one share set", first.Key.Label, m.Key.Label)
		}
		labels[m.Key.Label] = true
	}
	want := first.SharedWith
	if want == nil {
		want = []string{first.Key.Label}
	}
	if len(labels) != len(want) || len(set) != len(want) {
		return fmt.Errorf("backup set %s backs up %d keys (%s); a re-share carries every one of them, and the manifests of %d were given\nhint: keep the set's folder whole: each key's manifest and blob in backup-%s/LABEL", first.SetID, len(want), strings.Join(want, ", "), len(set), first.SetID)
	}
	for _, l := range want {
		if !labels[l] {
			return fmt.Errorf("backup set %s backs up key %q, and its manifest was not given\nhint: keep the set's folder whole: each key's manifest and blob in backup-%s/LABEL", first.SetID, l, first.SetID)
		}
	}
	return nil
}
