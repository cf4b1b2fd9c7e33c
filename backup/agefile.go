package backup

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"filippo.io/age/armor"
	"golang.org/x/crypto/ssh"
)

// maxAgePlaintext bounds what DecryptAge reads: a typed share with its caption is far smaller.
const maxAgePlaintext = 4096

// PassphraseRecipient returns an age scrypt recipient for a custodian's passphrase, at age's
// default work factor (2^18, about a second). It is the only recipient of its file. A passphrase
// of list words is used in canonical form (see SamePassphrase). age takes the passphrase as a
// string, a copy this package cannot clear; the caller clears passphrase.
func PassphraseRecipient(passphrase []byte) (*age.ScryptRecipient, error) {
	c := canonicalPassphrase(passphrase)
	defer clear(c)
	r, err := age.NewScryptRecipient(string(c))
	if err != nil {
		return nil, errors.New("the passphrase is empty\nhint: choose a passphrase for this share file")
	}
	return r, nil
}

// PassphraseIdentity returns the age scrypt identity that opens a file made for
// PassphraseRecipient with the same passphrase.
func PassphraseIdentity(passphrase []byte) (*age.ScryptIdentity, error) {
	c := canonicalPassphrase(passphrase)
	defer clear(c)
	id, err := age.NewScryptIdentity(string(c))
	if err != nil {
		return nil, errors.New("the passphrase is empty\nhint: type the passphrase of this share file")
	}
	return id, nil
}

// ParseRecipient reads a custodian's public key: an age recipient ("age1...", "age1pq1...") or an
// SSH public key ("ssh-ed25519 ...", "ssh-rsa ...", as in authorized_keys).
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "ssh-") {
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("not a usable SSH public key: %v\nhint: give an ssh-ed25519 or ssh-rsa key, one line as in authorized_keys", err)
		}
		return r, nil
	}
	rs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil || len(rs) != 1 {
		return nil, errors.New("not an age or SSH public key\nhint: give one key: age1..., ssh-ed25519 ... or ssh-rsa ...")
	}
	return rs[0], nil
}

// RecipientKey returns the key a recipient string names in one canonical form, so that two
// spellings of the same key (case, spacing, an SSH comment or options) compare equal: the age
// recipient's own encoding, or the SSH key type and its wire-format key in base64.
func RecipientKey(s string) (string, error) {
	r, err := ParseRecipient(s)
	if err != nil {
		return "", err
	}
	if st, ok := r.(fmt.Stringer); ok {
		return st.String(), nil
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(s)))
	if err != nil {
		return "", fmt.Errorf("not a usable SSH public key: %v", err)
	}
	return pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal()), nil
}

// ParseIdentity reads a custodian's private key to open their share file: an age identity file
// (AGE-SECRET-KEY-1...) or an unencrypted OpenSSH private key.
func ParseIdentity(data []byte) ([]age.Identity, error) {
	if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			return nil, errors.New("cannot use this SSH private key\nhint: give an unencrypted ed25519 or RSA OpenSSH key, or decrypt the share file with the age tool")
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("not an age identity file or SSH private key")
	}
	return ids, nil
}

// EncryptAge returns the share's typed form, under a caption naming it, as an ASCII-armored age
// file for the given recipients (a passphrase recipient must be alone).
func (s Share) EncryptAge(recipients ...age.Recipient) ([]byte, error) {
	if err := s.wellFormed(); err != nil {
		return nil, err
	}
	if len(recipients) == 0 {
		return nil, errors.New("no recipient for the share file\nhint: give the custodian's passphrase or public key")
	}
	plain := []byte("# keyceremony backup " + s.String() + "\n")
	plain = s.appendTyped(plain)
	defer clear(plain)
	var out bytes.Buffer
	aw := armor.NewWriter(&out)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt share %d: %v", s.Index, err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("encrypt share %d: %v", s.Index, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt share %d: %v", s.Index, err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("encrypt share %d: %v", s.Index, err)
	}
	return out.Bytes(), nil
}

// DecryptAge opens a share file made by EncryptAge (armored or binary) and parses the share in
// it. A wrong passphrase, or a file not made for the given key, is said plainly.
func DecryptAge(data []byte, identities ...age.Identity) (Share, error) {
	if len(identities) == 0 {
		return Share{}, errors.New("nothing to open the share file with\nhint: give the passphrase or the private key")
	}
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(data))
	}
	r, err := age.Decrypt(src, identities...)
	if err != nil {
		return Share{}, ageError(err, identities)
	}
	plain := make([]byte, 0, 512)
	buf := make([]byte, 512)
	defer func() { clear(plain); clear(buf) }()
	for {
		n, err := r.Read(buf)
		if len(plain)+n > maxAgePlaintext {
			return Share{}, errors.New("the share file holds more than a share")
		}
		plain = append(plain, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			return Share{}, errors.New("the share file is damaged: its contents fail age's authentication\nhint: use another copy of the file")
		}
	}
	return parseTyped(plain)
}

func ageError(err error, identities []age.Identity) error {
	var nomatch *age.NoIdentityMatchError
	if !errors.As(err, &nomatch) {
		return fmt.Errorf("not a readable share file: %v\nhint: give the .age file written for this custodian", err)
	}
	passphrase := false
	for _, id := range identities {
		if _, ok := id.(*age.ScryptIdentity); ok {
			passphrase = true
		}
	}
	scrypt := false
	for _, t := range nomatch.StanzaTypes {
		scrypt = scrypt || t == "scrypt"
	}
	switch {
	case passphrase && scrypt:
		return errors.New("wrong passphrase for this share file\nhint: type it again, minding case and keyboard layout")
	case passphrase:
		return errors.New("this share file is encrypted to a key, not a passphrase\nhint: give the custodian's private key")
	case scrypt:
		return errors.New("this share file is encrypted to a passphrase, not a key\nhint: give the custodian's passphrase")
	}
	return errors.New("this share file was not encrypted to the given key\nhint: give the private key of the custodian the file was made for")
}

// ageHeader returns the start of an age file's header, from its armor if it has one, or nil when
// data is not an age file.
func ageHeader(data []byte) []byte {
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(data))
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(src, head)
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("age-encryption.org/v1\n")) {
		return nil
	}
	return head
}

// IsAgeFile reports whether data is an age file (binary or armored), as opposed to a typed share.
func IsAgeFile(data []byte) bool { return ageHeader(data) != nil }

// IsPassphraseFile reports whether data is an age file encrypted to a passphrase, so the
// custodian is asked for it rather than for a private key.
func IsPassphraseFile(data []byte) bool {
	return bytes.Contains(ageHeader(data), []byte("\n-> scrypt "))
}
