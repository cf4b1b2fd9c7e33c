package ocktest

import (
	"bytes"
	"crypto"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/ceremony/transcript"
	"github.com/keyceremony/keyceremony/hsm"
)

// TestProbe pins what the opencryptoki 3.8.1 soft token does, as the probe finds it, and that
// a token made again holds none of the last test's objects.
func TestProbe(t *testing.T) {
	for i := range 2 {
		t.Run(fmt.Sprint("token ", i), func(t *testing.T) { probe(t) })
	}
}

func probe(t *testing.T) {
	{
		m, err := hsm.Open(Token(t, "ocktest"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := m.OpenSession("ocktest")
		if err != nil {
			t.Fatal(err)
		}
		c := s.Capabilities()
		want := "RSA-OAEP SHA-1 yes, SHA-256 yes; RSA-AES-KEY-WRAP SHA-1 no, SHA-256 no; AES-KWP no; AES-KW no; AES-CBC-PAD wrap yes; unwrapped keys sensitive no; EdDSA no; ECDSA no; RSA-PSS yes, RSA-PKCS1 yes; trusted wrap enforced no; refused attributes CKA_WRAP_WITH_TRUSTED, CKA_COPYABLE"
		if c.String() != want || !c.OAEP[crypto.SHA256] {
			t.Errorf("capabilities = %s, want %s", c, want)
		}
		if err := s.Login(hsm.User, []byte(PIN)); err != nil {
			t.Fatal(err)
		}
		if n, err := s.Unnamed(); err != nil || n != 0 {
			t.Errorf("a fresh token has %d unnamed objects (%v)", n, err)
		}
		g, err := s.GenerateSigningKey("ocktest signing key")
		if err != nil {
			t.Fatal(err)
		}
		if g.Algorithm() != "RSA-3072 PSS" {
			t.Errorf("signing key %s, want RSA-3072 PSS", g.Algorithm())
		}
		s.Close()
		m.Close()
	}
}

// TestTranscriptSignedInToken makes a transcript signed by the token's RSA-3072 PSS key and
// seals it: keyceremony's verifier and scripts/verify-transcript (openssl) both accept it, and
// both refuse it once an event is changed.
func TestTranscriptSignedInToken(t *testing.T) {
	m, err := hsm.Open(Token(t, "ocktest"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.OpenSession("ocktest")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Login(hsm.User, []byte(PIN)); err != nil {
		t.Fatal(err)
	}
	g, err := s.GenerateSigningKey("ocktest/transcript")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	who := transcript.Actor{Role: "witness", Name: "Wendy"}
	w, err := transcript.Create(dir, g, transcript.Begin{Actor: who, PlanSHA256: strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(transcript.Entry{Step: "one", Actor: who, Facts: map[string]string{"token": "opencryptoki"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal("keyceremony/ocktest", who); err != nil {
		t.Fatal(err)
	}
	w.Close()
	script, _ := filepath.Abs("../../scripts/verify-transcript")
	check := func(wantOK bool, want string) {
		t.Helper()
		r := transcript.Verify(dir)
		out, err := exec.Command("bash", script, dir).CombinedOutput()
		if r.OK != wantOK || (err == nil) != wantOK || !strings.Contains(string(out), want) || !strings.Contains(strings.Join(r.Lines, "\n")+r.Problem, want) {
			t.Errorf("Verify: OK %v %q %q; the script: %v\n%s; want OK %v and %q", r.OK, r.Lines, r.Problem, err, out, wantOK, want)
		}
	}
	check(true, "signing key: rsa-pss-3072-sha256 ")
	path := filepath.Join(dir, transcript.TranscriptFile)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("opencryptoki"), []byte("opencryptokI"), 1), 0o644)
	check(false, "event 1: the signature does not verify")
}
