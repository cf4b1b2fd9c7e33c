package spki

import (
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// TestK1VerifyOpenSSL checks the secp256k1 verifier against signatures
// made by OpenSSL, and that it rejects a changed digest or signature.
func TestK1VerifyOpenSSL(t *testing.T) {
	dir := t.TempDir()
	key, pub := filepath.Join(dir, "k.pem"), filepath.Join(dir, "pub.der")
	run := func(args ...string) []byte {
		out, err := exec.Command("openssl", args...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", key)
	run("pkey", "-in", key, "-pubout", "-outform", "DER", "-out", pub)
	der, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	point, ok := pk.(*secp256k1.PublicKey)
	if !ok {
		t.Fatalf("Parse gave %T", pk)
	}
	for i := range 3 {
		msg := []byte{byte(i)}
		digest := sha256.Sum256(msg)
		in := filepath.Join(dir, "digest")
		if err := os.WriteFile(in, digest[:], 0o600); err != nil {
			t.Fatal(err)
		}
		var sig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(run("pkeyutl", "-sign", "-inkey", key, "-in", in), &sig); err != nil {
			t.Fatal(err)
		}
		if !VerifyK1(point, digest[:], sig.R, sig.S) {
			t.Fatalf("signature %d made by OpenSSL does not verify", i)
		}
		digest[0] ^= 1
		if VerifyK1(point, digest[:], sig.R, sig.S) {
			t.Fatal("a signature verified over another digest")
		}
		digest[0] ^= 1
		if VerifyK1(point, digest[:], sig.S, sig.R) || VerifyK1(point, digest[:], new(big.Int).Add(sig.R, secp256k1.S256().N), sig.S) {
			t.Fatal("a changed signature verified")
		}
	}
	bad := append([]byte{4}, make([]byte, 64)...)
	bad[64] = 1
	if _, err := parseK1(bad); err == nil {
		t.Error("a point off the curve was accepted")
	}
}
