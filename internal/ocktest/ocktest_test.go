package ocktest

import (
	"crypto"
	"fmt"
	"testing"

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
