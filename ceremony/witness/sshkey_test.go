package witness

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// skAgent is an ssh-agent holding one key that only it can sign with, as ssh-agent holds a
// FIDO2 key: it lists the key and signs through the key's own Sign.
type skAgent struct{ s ssh.Signer }

func (a skAgent) List() ([]*agent.Key, error) {
	pub := a.s.PublicKey()
	return []*agent.Key{{Format: pub.Type(), Blob: pub.Marshal(), Comment: "security key"}}, nil
}

func (a skAgent) Sign(key ssh.PublicKey, data []byte) (*ssh.Signature, error) {
	if !bytes.Equal(key.Marshal(), a.s.PublicKey().Marshal()) {
		return nil, errors.New("no such key")
	}
	return a.s.Sign(nil, data)
}

func (skAgent) Add(agent.AddedKey) error       { return errors.New("read-only") }
func (skAgent) Remove(ssh.PublicKey) error     { return errors.New("read-only") }
func (skAgent) RemoveAll() error               { return errors.New("read-only") }
func (skAgent) Lock([]byte) error              { return errors.New("read-only") }
func (skAgent) Unlock([]byte) error            { return errors.New("read-only") }
func (skAgent) Signers() ([]ssh.Signer, error) { return nil, errors.New("not here") }

// serveAgent serves a on a socket and points SSH_AUTH_SOCK at it.
func serveAgent(t *testing.T, a agent.Agent) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(a, c)
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
}

func noPassphrase(t *testing.T) func() ([]byte, error) {
	return func() ([]byte, error) { t.Fatal("asked for a passphrase"); return nil, nil }
}

// An sk-ssh-ed25519 key signs through ssh-agent: --ssh-key names its public key (or a private
// key stub with a .pub beside it), and the signature verifies as the allowed signer's.
func TestSSHSignerThroughAgent(t *testing.T) {
	sk := newSKSigner(t)
	serveAgent(t, skAgent{sk})
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "id_ed25519_sk.pub")
	os.WriteFile(pubFile, ssh.MarshalAuthorizedKey(sk.PublicKey()), 0o644)
	stub := filepath.Join(dir, "id_ed25519_sk")
	os.WriteFile(stub, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key this code can use\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600)
	for _, path := range []string{pubFile, stub} {
		s, err := SSHSigner(path, noPassphrase(t))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		folder := sealed(t, "keyceremony/sk")
		r, _ := Verified(folder)
		if err := CosignSSH(folder, r.Checkpoint, "carol", s); err != nil {
			t.Fatal(err)
		}
		var l List
		l.Add(allowed("carol", sk))
		if o := check(t, folder, &l, 1); !o.OK || o.Lines[0] != "cosigned by carol (SSH signature, sk-ssh-ed25519@openssh.com)" {
			t.Fatalf("an sk key through the agent: %q", o.Lines)
		}
	}
	// A key the agent does not hold is named.
	other := filepath.Join(dir, "other.pub")
	os.WriteFile(other, ssh.MarshalAuthorizedKey(sshEd25519(t).PublicKey()), 0o644)
	if _, err := SSHSigner(other, noPassphrase(t)); err == nil || !bytes.HasPrefix([]byte(err.Error()), []byte("ssh-agent does not hold the key "+other+" (SHA256:")) {
		t.Errorf("a key the agent lacks: %v", err)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, err := SSHSigner(pubFile, noPassphrase(t)); err == nil || err.Error() != "the SSH key "+pubFile+" signs only through ssh-agent, and SSH_AUTH_SOCK is not set\nhint: start ssh-agent and run ssh-add "+stub {
		t.Errorf("no agent: %v", err)
	}
}

func TestSSHSignerPrivateKeyFile(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	if out, err := exec.Command(sshKeygen(t), "-q", "-t", "ed25519", "-N", "a passphrase", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pass := func(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }
	s, err := SSHSigner(key, pass("a passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := os.ReadFile(key + ".pub")
	want, _, _, _, _ := ssh.ParseAuthorizedKey(pub)
	if !bytes.Equal(s.PublicKey().Marshal(), want.Marshal()) {
		t.Fatal("the signer is not the file's key")
	}
	if _, err := SSHSigner(key, pass("wrong")); err == nil || err.Error() != "the passphrase does not open the SSH key "+key+"\nhint: type it again; nothing was cosigned" {
		t.Errorf("a wrong passphrase: %v", err)
	}
}
