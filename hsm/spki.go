package hsm

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// curve is a named curve keyceremony generates keys on. params is its
// CKA_EC_PARAMS value: the DER of the curve OID (RFC 5480 namedCurve).
type curve struct {
	name   string
	bits   int
	oid    asn1.ObjectIdentifier
	params []byte
	std    elliptic.Curve // nil for secp256k1, which Go's crypto does not know
}

var curves = []*curve{
	newCurve("P-256", 256, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, elliptic.P256()),
	newCurve("P-384", 384, asn1.ObjectIdentifier{1, 3, 132, 0, 34}, elliptic.P384()),
	newCurve("P-521", 521, asn1.ObjectIdentifier{1, 3, 132, 0, 35}, elliptic.P521()),
	newCurve("secp256k1", 256, asn1.ObjectIdentifier{1, 3, 132, 0, 10}, nil),
}

func newCurve(name string, bits int, oid asn1.ObjectIdentifier, std elliptic.Curve) *curve {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return &curve{name: name, bits: bits, oid: oid, params: der, std: std}
}

func curveByName(name string) *curve {
	for _, c := range curves {
		if c.name == name {
			return c
		}
	}
	return nil
}

func curveByParams(p []byte) *curve {
	for _, c := range curves {
		if bytes.Equal(c.params, p) {
			return c
		}
	}
	return nil
}

var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1} // RFC 5480
	ed25519Params  = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}          // DER of OID 1.3.101.112, Ed25519 (RFC 8410)
)

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

func rsaSPKI(modulus, exponent []byte) ([]byte, error) {
	e := new(big.Int).SetBytes(exponent)
	if !e.IsInt64() || e.Int64() > 1<<31-1 {
		return nil, &Error{Msg: fmt.Sprintf("the RSA public exponent %x is too large", exponent)}
	}
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(modulus), E: int(e.Int64())})
	if err != nil {
		return nil, &Error{Msg: "cannot encode the RSA public key: " + err.Error()}
	}
	return der, nil
}

// ecPoint unwraps CKA_EC_POINT. PKCS#11 v2.40 makes it a DER OCTET STRING
// around the point, but some tokens return the bare point; both are taken.
func ecPoint(v []byte, size int) []byte {
	var inner []byte
	if rest, err := asn1.Unmarshal(v, &inner); err == nil && len(rest) == 0 && len(inner) == size {
		return inner
	}
	return v
}

// ecSPKI builds the SubjectPublicKeyInfo (RFC 5480) of an EC public key by
// hand, so that secp256k1 gets the same encoding as the NIST curves; the
// point is checked to be on the curve first.
func ecSPKI(params, point []byte) ([]byte, error) {
	c := curveByParams(params)
	if c == nil {
		return nil, &Error{Msg: fmt.Sprintf("the key's curve (EC parameters %x) is not one keyceremony knows", params)}
	}
	pt := ecPoint(point, 1+2*((c.bits+7)/8))
	if err := c.checkPoint(pt); err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(subjectPublicKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: c.params}},
		PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)},
	})
	if err != nil {
		return nil, &Error{Msg: "cannot encode the EC public key: " + err.Error()}
	}
	return der, nil
}

// checkPoint checks that pt is an uncompressed point on the curve.
func (c *curve) checkPoint(pt []byte) error {
	bad := &Error{Msg: fmt.Sprintf("the token's %s public key is not a valid point", c.name)}
	if c.std != nil {
		if _, err := ecdsa.ParseUncompressedPublicKey(c.std, pt); err != nil {
			return bad
		}
		return nil
	}
	if _, err := k1ParsePoint(pt); err != nil {
		return bad
	}
	return nil
}

// parsePublicKey parses a DER SubjectPublicKeyInfo like
// x509.ParsePKIXPublicKey, and also secp256k1 keys, returned as *k1Point.
func parsePublicKey(der []byte) (any, error) {
	var spki subjectPublicKeyInfo
	if rest, err := asn1.Unmarshal(der, &spki); err == nil && len(rest) == 0 &&
		spki.Algorithm.Algorithm.Equal(oidECPublicKey) &&
		bytes.Equal(spki.Algorithm.Parameters.FullBytes, curveByName("secp256k1").params) {
		return k1ParsePoint(spki.PublicKey.RightAlign())
	}
	return x509.ParsePKIXPublicKey(der)
}
