package backup

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// fastPassphrase is a passphrase recipient at a low scrypt work factor, for tests only.
func fastPassphrase(t testing.TB, p string) *age.ScryptRecipient {
	r, err := PassphraseRecipient([]byte(p))
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	return r
}

func sameShare(t testing.TB, got, want Share) {
	t.Helper()
	if got.SetID != want.SetID || got.Index != want.Index || got.M != want.M || got.N != want.N || !bytes.Equal(got.Value, want.Value) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestAgePassphrase(t *testing.T) {
	sh := fixedShare()
	file, err := sh.EncryptAge(fastPassphrase(t, "correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(file, []byte("-----BEGIN AGE ENCRYPTED FILE-----\n")) {
		t.Fatalf("not armored: %q", file[:40])
	}
	id, _ := PassphraseIdentity([]byte("correct horse"))
	got, err := DecryptAge(file, id)
	if err != nil {
		t.Fatal(err)
	}
	sameShare(t, got, sh)

	// A passphrase of list words opens in any case and spacing; anything else must be exact.
	loose, _ := PassphraseIdentity([]byte(" Correct\tHORSE "))
	if _, err := DecryptAge(file, loose); err != nil {
		t.Fatalf("a list-word passphrase in other case and spacing: %v", err)
	}
	wrong, _ := PassphraseIdentity([]byte("correct horses"))
	_, err = DecryptAge(file, wrong)
	wantErr(t, err, "wrong passphrase for this share file\nhint: type it again, minding case and keyboard layout")

	_, err = PassphraseRecipient([]byte(""))
	wantErr(t, err, "the passphrase is empty\nhint: choose a passphrase for this share file")

	// A damaged file.
	bin := bytes.Replace(file, []byte("\n"), []byte("\n"), -1)
	bin[len(bin)/2] ^= 0x01
	if _, err := DecryptAge(bin, id); err == nil {
		t.Fatal("damaged file decrypted")
	}
}

func TestAgeKeys(t *testing.T) {
	sh := fixedShare()

	// age X25519.
	xid, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := ParseRecipient(" " + xid.Recipient().String() + "\n")
	if err != nil {
		t.Fatal(err)
	}
	file, err := sh.EncryptAge(rcpt)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseIdentity([]byte("# created: now\n" + xid.String() + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecryptAge(file, ids...)
	if err != nil {
		t.Fatal(err)
	}
	sameShare(t, got, sh)

	// SSH ed25519.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	srcpt, err := ParseRecipient(string(ssh.MarshalAuthorizedKey(sshPub)))
	if err != nil {
		t.Fatal(err)
	}
	sfile, err := sh.EncryptAge(srcpt)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	sids, err := ParseIdentity(pem.EncodeToMemory(block))
	if err != nil {
		t.Fatal(err)
	}
	got, err = DecryptAge(sfile, sids...)
	if err != nil {
		t.Fatal(err)
	}
	sameShare(t, got, sh)

	// The wrong key, a key for a passphrase file, a passphrase for a key file.
	other, _ := age.GenerateX25519Identity()
	_, err = DecryptAge(file, other)
	wantErr(t, err, "this share file was not encrypted to the given key\nhint: give the private key of the custodian the file was made for")
	pfile, err := sh.EncryptAge(fastPassphrase(t, "pw"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecryptAge(pfile, other)
	wantErr(t, err, "this share file is encrypted to a passphrase, not a key\nhint: give the custodian's passphrase")
	pid, _ := PassphraseIdentity([]byte("pw"))
	_, err = DecryptAge(file, pid)
	wantErr(t, err, "this share file is encrypted to a key, not a passphrase\nhint: give the custodian's private key")

	// Bad inputs.
	for _, s := range []string{"", "age1nope", "ssh-dss AAAA", "AGE-SECRET-KEY-1XYZ"} {
		if _, err := ParseRecipient(s); err == nil {
			t.Errorf("ParseRecipient(%q): %v", s, err)
		}
	}
	if _, err := ParseIdentity([]byte("nothing")); err == nil {
		t.Error("ParseIdentity accepted junk")
	}
	_, err = DecryptAge(file)
	wantErr(t, err, "nothing to open the share file with\nhint: give the passphrase or the private key")
	_, err = DecryptAge([]byte("not age"), other)
	if err == nil || !strings.HasPrefix(err.Error(), "not a readable share file") {
		t.Fatalf("junk: %v", err)
	}
}

func TestIsAgeFile(t *testing.T) {
	sh := fixedShare()
	pass, err := sh.EncryptAge(fastPassphrase(t, "correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	xid, _ := age.GenerateX25519Identity()
	keyed, err := sh.EncryptAge(xid.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	var bin bytes.Buffer
	w, _ := age.Encrypt(&bin, xid.Recipient())
	w.Write([]byte("x"))
	w.Close()
	for _, tt := range []struct {
		name             string
		data             []byte
		isAge, isPassAge bool
	}{
		{"armored passphrase file", pass, true, true},
		{"armored key file", keyed, true, false},
		{"binary key file", bin.Bytes(), true, false},
		{"typed share", []byte(sh.Typed()), false, false},
		{"empty", nil, false, false},
	} {
		if got := IsAgeFile(tt.data); got != tt.isAge {
			t.Errorf("%s: IsAgeFile = %v", tt.name, got)
		}
		if got := IsPassphraseFile(tt.data); got != tt.isPassAge {
			t.Errorf("%s: IsPassphraseFile = %v", tt.name, got)
		}
	}
}

// TestRecipientKey: two spellings of one key are the same key; two keys are not.
func TestRecipientKey(t *testing.T) {
	const ssh1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM9nLz31sFzPVz6KIDi039ClR92lDQboM1ZsX0MxhZVo"
	id1, _ := age.GenerateX25519Identity()
	id2, _ := age.GenerateX25519Identity()
	key := func(s string) string {
		t.Helper()
		k, err := RecipientKey(s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if key(ssh1+" alice@a") != key("  "+ssh1+"   bob@b ") {
		t.Error("one SSH key with two comments compares different")
	}
	if key(id1.Recipient().String()) != key(" "+id1.Recipient().String()+"\n") {
		t.Error("one age key with spaces around compares different")
	}
	if key(id1.Recipient().String()) == key(id2.Recipient().String()) || key(id1.Recipient().String()) == key(ssh1) {
		t.Error("different keys compare equal")
	}
	_, err := RecipientKey("ssh-ed25519 AAAA")
	wantErr(t, err, "not a usable SSH public key: malformed SSH recipient: \"ssh-ed25519 AAAA\": ssh: no key found; last parsing error for ignored line: ssh: short read\nhint: give an ssh-ed25519 or ssh-rsa key, one line as in authorized_keys")
}
