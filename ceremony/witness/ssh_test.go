package witness

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"golang.org/x/crypto/ssh"
)

func sshEd25519(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// skSigner is a FIDO2 sk-ssh-ed25519 key made in software: it signs as a security key does
// (PROTOCOL.u2f in OpenSSH: Ed25519 over SHA-256(application), flags, counter and
// SHA-256(message)), so the verification path of hardware keys is tested without one.
type skSigner struct {
	priv ed25519.PrivateKey
	pub  ssh.PublicKey
	app  string
}

func newSKSigner(t testing.TB) *skSigner {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wire := ssh.Marshal(struct {
		Type string
		Key  []byte
		App  string
	}{ssh.KeyAlgoSKED25519, pub, "ssh:"})
	pk, err := ssh.ParsePublicKey(wire)
	if err != nil {
		t.Fatal(err)
	}
	return &skSigner{priv, pk, "ssh:"}
}

func (s *skSigner) PublicKey() ssh.PublicKey { return s.pub }

func (s *skSigner) Sign(_ io.Reader, data []byte) (*ssh.Signature, error) {
	const flags, counter = 0x01, 7 // user present
	app, msg := sha256.Sum256([]byte(s.app)), sha256.Sum256(data)
	signed := append(app[:], flags, 0, 0, 0, counter)
	signed = append(signed, msg[:]...)
	return &ssh.Signature{
		Format: ssh.KeyAlgoSKED25519,
		Blob:   ed25519.Sign(s.priv, signed),
		Rest: ssh.Marshal(struct {
			Flags   byte
			Counter uint32
		}{flags, counter}),
	}, nil
}

func allowed(name string, s ssh.Signer) string {
	return name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestSSHCosignatures(t *testing.T) {
	for _, c := range []struct {
		what   string
		signer ssh.Signer
	}{{"ssh-ed25519", sshEd25519(t)}, {"sk-ssh-ed25519 (software)", newSKSigner(t)}} {
		t.Run(c.what, func(t *testing.T) {
			dir := sealed(t, "keyceremony/ssh")
			r, err := Verified(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := CosignSSH(dir, r.Checkpoint, "carol@example.org", c.signer); err != nil {
				t.Fatal(err)
			}
			if err := CosignSSH(dir, r.Checkpoint, "carol@example.org", c.signer); err != ErrAlreadyCosigned {
				t.Fatalf("a second SSH cosign by the same key: %v", err)
			}
			var l List
			if err := l.Add(allowed("carol@example.org", c.signer)); err != nil {
				t.Fatal(err)
			}
			o := check(t, dir, &l, 1)
			if !o.OK || o.Lines[0] != "cosigned by carol@example.org (SSH signature, "+c.signer.PublicKey().Type()+")" {
				t.Fatalf("an SSH cosignature: %v %q", o.OK, o.Lines)
			}
			// ssh-keygen agrees, over the checkpoint's note text.
			sigFile := filepath.Join(dir, transcript.SSHSignaturePrefix+"carol@example.org")
			signers := filepath.Join(t.TempDir(), "allowed_signers")
			os.WriteFile(signers, []byte(allowed("carol@example.org", c.signer)+"\n"), 0o644)
			cmd := exec.Command(sshKeygen(t), "-Y", "verify", "-f", signers, "-I", "carol@example.org", "-n", SSHNamespace, "-s", sigFile)
			cmd.Stdin = strings.NewReader(r.Checkpoint)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
			}
			// Both verifiers accept the file beside the checkpoint and list it, unchecked.
			listed := "witness SSH signature checkpoint.sshsig-carol@example.org: not checked"
			if code, lines := shell(t, dir); code != 0 || !slices.Contains(lines, listed) || !slices.Contains(transcript.Verify(dir).Lines, listed) {
				t.Errorf("the SSH signature file is not listed by both verifiers (script exit %d):\n%s", code, strings.Join(lines, "\n"))
			}
			// Another key under the listed name, another name, another checkpoint.
			var other List
			other.Add(allowed("carol@example.org", sshEd25519(t)))
			if o := check(t, dir, &other, 1); o.OK || o.Lines[0] != "invalid SSH signature checkpoint.sshsig-carol@example.org by carol@example.org: made by another key, not counted" {
				t.Errorf("an SSH signature by a key other than the listed one: %q", o.Lines)
			}
			var nobody List
			nobody.Add(allowed("dave@example.org", c.signer))
			if o := check(t, dir, &nobody, 1); o.OK || o.Lines[0] != "unknown SSH signature checkpoint.sshsig-carol@example.org: carol@example.org is not a listed witness, not counted" {
				t.Errorf("an SSH signature by an unlisted name: %q", o.Lines)
			}
			dir2 := sealed(t, "keyceremony/ssh")
			data, _ := os.ReadFile(sigFile)
			os.WriteFile(filepath.Join(dir2, transcript.SSHSignaturePrefix+"carol@example.org"), data, 0o644)
			if o := check(t, dir2, &l, 1); o.OK || o.Lines[0] != "invalid SSH signature checkpoint.sshsig-carol@example.org by carol@example.org: does not verify over this checkpoint, not counted" {
				t.Errorf("an SSH signature over another checkpoint: %q", o.Lines)
			}
		})
	}
}

func TestSSHSignatureFromSSHKeygen(t *testing.T) {
	// A signature ssh-keygen -Y sign made is read and checked.
	dir := sealed(t, "keyceremony/ssh-keygen")
	r := transcript.Verify(dir)
	tmp := t.TempDir()
	key := filepath.Join(tmp, "id")
	if out, err := exec.Command(sshKeygen(t), "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(tmp, "msg"), []byte(r.Checkpoint), 0o644)
	if out, err := exec.Command(sshKeygen(t), "-Y", "sign", "-f", key, "-n", SSHNamespace, filepath.Join(tmp, "msg")).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, _ := os.ReadFile(filepath.Join(tmp, "msg.sig"))
	os.WriteFile(filepath.Join(dir, transcript.SSHSignaturePrefix+"erin"), data, 0o644)
	pub, _ := os.ReadFile(key + ".pub")
	var l List
	if err := l.Add("erin " + string(pub)); err != nil {
		t.Fatal(err)
	}
	if o := check(t, dir, &l, 1); !o.OK {
		t.Fatalf("a signature by ssh-keygen: %q", o.Lines)
	}
	// One made for another namespace (a git commit signature, say) does not count.
	os.Remove(filepath.Join(tmp, "msg.sig"))
	exec.Command(sshKeygen(t), "-Y", "sign", "-f", key, "-n", "git", filepath.Join(tmp, "msg")).Run()
	data, _ = os.ReadFile(filepath.Join(tmp, "msg.sig"))
	os.WriteFile(filepath.Join(dir, transcript.SSHSignaturePrefix+"erin"), data, 0o644)
	if o := check(t, dir, &l, 1); o.OK || o.Lines[0] != `invalid SSH signature checkpoint.sshsig-erin by erin: made for namespace "git" with sha512, not "keyceremony-cosign" with sha512, not counted` {
		t.Fatalf("a signature for namespace git: %q", o.Lines)
	}
}

func TestAllowedSigners(t *testing.T) {
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshEd25519(t).PublicKey())))
	for line, want := range map[string]string{
		"carol@example.org " + key + " laptop":             "",
		`carol namespaces="git,keyceremony-cosign" ` + key: "",
		`carol namespaces="git" ` + key:                    `allowed signer carol may sign only for namespaces "git", not keyceremony-cosign`,
		"*@example.org " + key:                             `allowed signer "*@example.org": the principal must be one witness name of letters, digits and "@._-" (no patterns, no lists)`,
		"a,b " + key:                                       `allowed signer "a,b": the principal must be one witness name of letters, digits and "@._-" (no patterns, no lists)`,
		"carol cert-authority " + key:                      "allowed signer carol: option cert-authority is not supported\nhint: list the witness's key with no options but namespaces=",
		"carol ssh-ed25519 AAAA":                           "allowed signer carol: not one public key of a type SSH knows",
	} {
		var l List
		err := l.Add(line)
		if got := ""; err != nil {
			got = err.Error()
			if got != want {
				t.Errorf("%q: %q, want %q", line, got, want)
			}
		} else if want != "" {
			t.Errorf("%q accepted, want %q", line, want)
		}
	}
}

func FuzzParseWitness(f *testing.F) {
	k := newKey(f, "w.example/a")
	f.Add(k.Verifier().String())
	f.Add("carol " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshEd25519(f).PublicKey()))))
	f.Fuzz(func(t *testing.T, s string) {
		var l List
		if l.Add(s) == nil && l.Len() != 1 {
			t.Fatal("accepted without adding")
		}
		for _, v := range l.Keys {
			if back, err := ParseVerifier(v.String()); err != nil || back.String() != v.String() {
				t.Fatalf("%q does not parse back: %v", v, err)
			}
		}
	})
}

// FuzzVerifySSH: an Ed25519 signature is deterministic, so the only SSHSIG blob that verifies
// over a text by a key is the one SignSSH makes; any other accepted input is a malleability bug.
func FuzzVerifySSH(f *testing.F) {
	s := sshEd25519(f)
	sig, _ := SignSSH(s, "text\n")
	want, _ := pem.Decode(sig)
	f.Add(sig)
	f.Add([]byte("-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if verifySSH(data, s.PublicKey(), "text\n") != nil {
			return
		}
		if got, _ := pem.Decode(data); got == nil || !bytes.Equal(got.Bytes, want.Bytes) {
			t.Fatalf("accepted another signature blob:\n%s", data)
		}
	})
}
