package spki

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// FuzzParse feeds Parse what a plan, a manifest or a cloud could hand it: it must not panic, and
// a secp256k1 key it accepts must be a point on the curve that EC encodes and Parse reads back.
func FuzzParse(f *testing.F) {
	k1, _ := hex.DecodeString(k1SPKI)
	f.Add(k1)
	f.Add(k1[:len(k1)-1])
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		pk, err := Parse(der)
		if err != nil {
			return
		}
		Kind(pk)
		pub, ok := pk.(*secp256k1.PublicKey)
		if !ok {
			return
		}
		again, err := EC(CurveByName("secp256k1").Params, pub.SerializeUncompressed())
		if err != nil {
			t.Fatalf("EC of a parsed secp256k1 key: %v", err)
		}
		back, err := Parse(again)
		if err != nil || !back.(*secp256k1.PublicKey).IsEqual(pub) {
			t.Fatalf("the rebuilt SPKI %x does not parse back to the key: %v", again, err)
		}
	})
}

// FuzzEC feeds EC token attribute values: it must not panic, and what it builds must parse to a
// key whose point is the one given.
func FuzzEC(f *testing.F) {
	k1, _ := hex.DecodeString(k1SPKI)
	for _, c := range Curves {
		f.Add(c.Params, k1[len(k1)-65:])
	}
	f.Fuzz(func(t *testing.T, params, point []byte) {
		der, err := EC(params, point)
		if err != nil {
			return
		}
		if _, err := Parse(der); err != nil {
			t.Fatalf("EC built %x, which does not parse: %v", der, err)
		}
		c := CurveByParams(params)
		if pt := ECPoint(point, 1+2*((c.Bits+7)/8)); !bytes.HasSuffix(der, pt) {
			t.Fatalf("the SPKI %x does not end with the point %x", der, pt)
		}
	})
}
