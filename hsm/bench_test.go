package hsm_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// wrapBench makes a token with an AES-256 target and a session copy of an RSA-3072 cloud key.
func wrapBench(b *testing.B) (*hsm.Session, *hsm.Key, *hsm.Key) {
	s := softhsmtest.Session(b)
	// The benchmark measures the mechanisms, not the security officer's login: the target is
	// made without CKA_WRAP_WITH_TRUSTED so that untrusted keys may wrap it.
	if err := s.Waive("CKA_WRAP_WITH_TRUSTED"); err != nil {
		b.Fatal(err)
	}
	target, err := s.GenerateKey("bench-target", hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256})
	if err != nil {
		b.Fatal(err)
	}
	cloud, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		b.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&cloud.PublicKey)
	pub, err := s.ImportRSAPublicKey(spki, false)
	if err != nil {
		b.Fatal(err)
	}
	return s, target, pub
}

// BenchmarkWrapDirect is the baseline: one C_WrapKey with RSA-OAEP SHA-1 (the native rung of a
// direct format such as AWS RSAES_OAEP_SHA_1).
func BenchmarkWrapDirect(b *testing.B) {
	s, target, pub := wrapBench(b)
	for b.Loop() {
		if _, err := s.WrapOAEP(pub, crypto.SHA1, target); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrapComposed is the composed-in-token rung of the RSA-AES formats: an ephemeral
// AES-256 session key, RSA-OAEP of it, AES-KWP of the target, and its destruction. scripts/bench
// reports its cost as a ratio to BenchmarkWrapDirect.
func BenchmarkWrapComposed(b *testing.B) {
	s, target, pub := wrapBench(b)
	for b.Loop() {
		eph, err := s.GenerateSessionAES(256, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.WrapOAEP(pub, crypto.SHA1, eph); err != nil {
			b.Fatal(err)
		}
		if _, err := s.WrapKWP(eph, target); err != nil {
			b.Fatal(err)
		}
		if err := s.Destroy(eph); err != nil {
			b.Fatal(err)
		}
	}
}
