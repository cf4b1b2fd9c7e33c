package witness

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/keyceremony/keyceremony/internal/atomicfile"
)

// MinPassphrase is the shortest passphrase a witness key file is encrypted with. The scrypt
// work factor slows guessing; the length keeps a short word out.
const MinPassphrase = 12

// WriteKeyFile writes the private key line skey to path, which must not exist, readable by its
// owner alone: age-encrypted (scrypt, armored) with passphrase, or as it is when passphrase is
// nil. workFactor is age's scrypt work factor, 0 for age's default (2^18, about a second).
func WriteKeyFile(path string, skey, passphrase []byte, workFactor int) error {
	data := skey
	if passphrase != nil {
		if len(passphrase) < MinPassphrase {
			return fmt.Errorf("the passphrase has %d characters, fewer than %d\nhint: choose a longer one, such as four or five random words", len(passphrase), MinPassphrase)
		}
		r, err := age.NewScryptRecipient(string(passphrase)) // age takes a string; the caller clears passphrase
		if err != nil {
			return err
		}
		if workFactor != 0 {
			r.SetWorkFactor(workFactor)
		}
		var out bytes.Buffer
		a := armor.NewWriter(&out)
		w, err := age.Encrypt(a, r)
		if err != nil {
			return err
		}
		if _, err := w.Write(skey); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		if err := a.Close(); err != nil {
			return err
		}
		data = out.Bytes()
	}
	return atomicfile.WriteOnce(path, data, 0o600)
}

// Encrypted reports whether a key file's content is age-encrypted.
func Encrypted(data []byte) bool {
	return bytes.HasPrefix(data, []byte(armor.Header)) || bytes.HasPrefix(data, []byte("age-encryption.org/"))
}

// maxKeyFile bounds the size of a key file read.
const maxKeyFile = 4096

// ReadKeyFile reads the witness key in path. When it is encrypted, passphrase is asked for it.
func ReadKeyFile(path string, passphrase func() ([]byte, error)) (*Key, error) {
	data, err := readSmall(path)
	if err != nil || len(data) > maxKeyFile {
		return nil, fmt.Errorf("cannot read the key file %s\nhint: give the file keyceremony witness keygen wrote", path)
	}
	if !Encrypted(data) {
		defer clear(data)
		return ParseKey(data)
	}
	p, err := passphrase()
	if err != nil {
		return nil, err
	}
	id, err := age.NewScryptIdentity(string(p))
	clear(p)
	if err != nil {
		return nil, errors.New("the passphrase is empty\nhint: type the key file's passphrase")
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(data)), id)
	if err != nil {
		var wrong *age.NoIdentityMatchError
		if errors.As(err, &wrong) {
			return nil, fmt.Errorf("the passphrase does not open %s\nhint: type it again; nothing was changed", path)
		}
		return nil, fmt.Errorf("%s is not a readable age file: %v", path, err)
	}
	skey, err := io.ReadAll(io.LimitReader(r, maxKeyFile))
	defer clear(skey)
	if err != nil {
		return nil, fmt.Errorf("%s is damaged: %v", path, err)
	}
	return ParseKey(skey)
}
