package spki

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"math/big"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// A secp256k1 key and an ECDSA signature over SHA-256("keyceremony"), made
// by OpenSSL 3.0 and frozen, so the verifier is checked without OpenSSL too.
const (
	k1SPKI = "3056301006072a8648ce3d020106052b8104000a034200043e004e8992911aa3cad0f47be4f3e85cdba7c291ae42119d721c5ca0d8688ebe28d364a1439e17c246715f282fff6b1a2bad534be22c3ffea924e1feda7746e3"
	k1R    = "d7ddab61af5f02060ac7171170538180e491c41ef94814c6cc47bb65d220f643"
	k1S    = "ab26ceb4380957f20374c8e47f791a87bffaf0ddfb26f15c706f3fdf65b55c48"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestK1Vector(t *testing.T) {
	der := unhex(t, k1SPKI)
	pk, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	pub := pk.(*secp256k1.PublicKey)
	digest := sha256.Sum256([]byte("keyceremony"))
	r, s := new(big.Int).SetBytes(unhex(t, k1R)), new(big.Int).SetBytes(unhex(t, k1S))
	if !VerifyK1(pub, digest[:], r, s) {
		t.Fatal("the frozen OpenSSL signature does not verify")
	}
	n := secp256k1.S256().N
	for name, rs := range map[string][2]*big.Int{
		"r+n":   {new(big.Int).Add(r, n), s},
		"s+n":   {r, new(big.Int).Add(s, n)},
		"n-s":   {r, new(big.Int).Sub(n, s)}, // the other valid s: ECDSA malleability is accepted, as by OpenSSL
		"zero":  {new(big.Int), s},
		"neg":   {new(big.Int).Neg(r), s},
		"swap":  {s, r},
		"r=n":   {n, s},
		"big s": {r, new(big.Int).Lsh(big.NewInt(1), 300)},
	} {
		want := name == "n-s"
		if got := VerifyK1(pub, digest[:], rs[0], rs[1]); got != want {
			t.Errorf("%s: VerifyK1 = %v, want %v", name, got, want)
		}
	}
	if VerifyK1(pub, append(digest[:], 0), r, s) {
		t.Error("a 33-byte digest was accepted")
	}

	// The SPKI built from the point, bare or as PKCS#11's OCTET STRING,
	// is the one OpenSSL wrote.
	point := der[len(der)-65:]
	wrapped, _ := asn1.Marshal(point)
	for _, p := range [][]byte{point, wrapped} {
		got, err := EC(CurveByName("secp256k1").Params, p)
		if err != nil || !bytes.Equal(got, der) {
			t.Errorf("EC(%x) = %x, %v; want %x", p, got, err, der)
		}
	}
	if Fingerprint(der) != "SHA256:"+hex.EncodeToString(func() []byte { s := sha256.Sum256(der); return s[:] }()) {
		t.Error("Fingerprint is not the SHA-256 of the DER")
	}
}

func TestECRefusals(t *testing.T) {
	der := unhex(t, k1SPKI)
	point := bytes.Clone(der[len(der)-65:])
	k1 := CurveByName("secp256k1").Params
	cases := []struct {
		params, point []byte
		want          string
	}{
		{[]byte{6, 1, 0}, point, "the key's curve (EC parameters 060100) is not one keyceremony knows"},
		{k1, point[:33], "the token's secp256k1 public key is not a valid point"}, // cut short
		{k1, append(bytes.Clone(point[:64]), point[64]^1), "the token's secp256k1 public key is not a valid point"},
		{CurveByName("P-256").Params, point, "the token's P-256 public key is not a valid point"},
	}
	for _, c := range cases {
		if _, err := EC(c.params, c.point); err == nil || err.Error() != c.want {
			t.Errorf("EC(%x, %x) = %v, want %q", c.params, c.point, err, c.want)
		}
	}
	if _, err := RSA([]byte{1}, bytes.Repeat([]byte{0xff}, 9)); err == nil || err.Error() != "the RSA public exponent ffffffffffffffffff is too large" {
		t.Errorf("RSA with a huge exponent: %v", err)
	}
}
