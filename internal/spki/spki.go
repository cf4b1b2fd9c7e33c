// Package spki builds, parses and names public keys in their X.509
// SubjectPublicKeyInfo form (RFC 5280 section 4.1.2.7; RFC 5480 for EC keys,
// RFC 8017 for RSA, RFC 8410 for Ed25519), secp256k1 (SEC 2 section 2.4.1)
// included, which Go's crypto/x509 does not know.
//
// It is pure Go: the auditor's and the connected side's build, which has no
// PKCS#11, names keys exactly as the ceremony workstation does.
package spki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// Fingerprint names a public key without revealing anything: "SHA256:" and the hex SHA-256 of
// its SubjectPublicKeyInfo DER. Cloud wrapping keys, target key pairs and backup manifests all
// use it, so the same key has the same name everywhere.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

// Curve is a named curve keyceremony generates keys on. Params is its
// PKCS#11 CKA_EC_PARAMS value: the DER of the curve OID (RFC 5480 namedCurve).
type Curve struct {
	Name   string
	Bits   int
	Params []byte
	std    elliptic.Curve // nil for secp256k1, which Go's crypto does not know
}

// Curves are the curves keyceremony knows, in the order it lists them.
var Curves = []*Curve{
	newCurve("P-256", 256, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, elliptic.P256()),
	newCurve("P-384", 384, asn1.ObjectIdentifier{1, 3, 132, 0, 34}, elliptic.P384()),
	newCurve("P-521", 521, asn1.ObjectIdentifier{1, 3, 132, 0, 35}, elliptic.P521()),
	newCurve("secp256k1", 256, asn1.ObjectIdentifier{1, 3, 132, 0, 10}, nil),
}

func newCurve(name string, bits int, oid asn1.ObjectIdentifier, std elliptic.Curve) *Curve {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return &Curve{Name: name, Bits: bits, Params: der, std: std}
}

// CurveByName gives the curve named name ("P-256", "secp256k1"), or nil.
func CurveByName(name string) *Curve {
	for _, c := range Curves {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// CurveByParams gives the curve whose DER OID is p, or nil.
func CurveByParams(p []byte) *Curve {
	for _, c := range Curves {
		if bytes.Equal(c.Params, p) {
			return c
		}
	}
	return nil
}

var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1} // RFC 5480

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// RSA builds the SubjectPublicKeyInfo of the RSA key with the big-endian
// modulus and exponent. Errors are sentences for the caller to frame.
func RSA(modulus, exponent []byte) ([]byte, error) {
	e := new(big.Int).SetBytes(exponent)
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("the RSA public exponent %x is too large", exponent)
	}
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(modulus), E: int(e.Int64())})
	if err != nil {
		return nil, fmt.Errorf("cannot encode the RSA public key: %v", err)
	}
	return der, nil
}

// ECPoint unwraps a PKCS#11 CKA_EC_POINT of a point of size bytes. PKCS#11
// v2.40 makes it a DER OCTET STRING around the point, but some tokens return
// the bare point; both are taken.
func ECPoint(v []byte, size int) []byte {
	var inner []byte
	if rest, err := asn1.Unmarshal(v, &inner); err == nil && len(rest) == 0 && len(inner) == size {
		return inner
	}
	return v
}

// EC builds the SubjectPublicKeyInfo (RFC 5480) of an EC public key by
// hand, so that secp256k1 gets the same encoding as the NIST curves. params
// and point are the token's CKA_EC_PARAMS and CKA_EC_POINT; the point is
// checked to be on the curve first. Errors are sentences for the caller to
// frame.
func EC(params, point []byte) ([]byte, error) {
	c := CurveByParams(params)
	if c == nil {
		return nil, fmt.Errorf("the key's curve (EC parameters %x) is not one keyceremony knows", params)
	}
	pt := ECPoint(point, 1+2*((c.Bits+7)/8))
	if err := c.checkPoint(pt); err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: c.Params}},
		PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)},
	})
	if err != nil {
		return nil, fmt.Errorf("cannot encode the EC public key: %v", err)
	}
	return der, nil
}

// checkPoint checks that pt is an uncompressed point on the curve.
func (c *Curve) checkPoint(pt []byte) error {
	var err error
	if c.std != nil {
		_, err = ecdsa.ParseUncompressedPublicKey(c.std, pt)
	} else {
		_, err = parseK1(pt)
	}
	if err != nil {
		return fmt.Errorf("the token's %s public key is not a valid point", c.Name)
	}
	return nil
}

// Parse parses a DER SubjectPublicKeyInfo like x509.ParsePKIXPublicKey,
// and also secp256k1 keys, returned as *secp256k1.PublicKey.
func Parse(der []byte) (any, error) {
	var spki subjectPublicKeyInfo
	if rest, err := asn1.Unmarshal(der, &spki); err == nil && len(rest) == 0 &&
		spki.Algorithm.Algorithm.Equal(oidECPublicKey) &&
		bytes.Equal(spki.Algorithm.Parameters.FullBytes, CurveByName("secp256k1").Params) {
		return parseK1(spki.PublicKey.RightAlign())
	}
	return x509.ParsePKIXPublicKey(der)
}

// Kind says what kind of key Parse returned, for error messages: "an EC
// key", "an Ed25519 key".
func Kind(pk any) string {
	switch pk.(type) {
	case *ecdsa.PublicKey, *secp256k1.PublicKey:
		return "an EC key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T", pk)
}
