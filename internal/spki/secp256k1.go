package spki

import (
	"errors"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// parseK1 parses an uncompressed secp256k1 point (SEC 1 section 2.3.4),
// the only form a token's CKA_EC_POINT or an SPKI of ours holds; the
// library checks that it is on the curve.
func parseK1(b []byte) (*secp256k1.PublicKey, error) {
	if len(b) != secp256k1.PubKeyBytesLenUncompressed || b[0] != secp256k1.PubKeyFormatUncompressed {
		return nil, errors.New("not an uncompressed secp256k1 point")
	}
	return secp256k1.ParsePubKey(b)
}

// VerifyK1 verifies an ECDSA signature (r, s) over a digest of at most 32
// bytes with a secp256k1 public key (SEC 1 section 4.1.4). r and s must be
// in [1, n-1]; they are not reduced.
func VerifyK1(pub *secp256k1.PublicKey, digest []byte, r, s *big.Int) bool {
	var rs, ss secp256k1.ModNScalar
	if len(digest) > 32 || !scalar(&rs, r) || !scalar(&ss, s) {
		return false
	}
	return ecdsa.NewSignature(&rs, &ss).Verify(digest, pub)
}

// scalar sets v to n if n is in [1, n-1], and reports whether it was.
func scalar(v *secp256k1.ModNScalar, n *big.Int) bool {
	if n.Sign() <= 0 || n.BitLen() > 256 {
		return false
	}
	overflow := v.SetByteSlice(n.Bytes())
	return !overflow && !v.IsZero()
}
