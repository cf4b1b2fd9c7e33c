package hsm

import (
	"errors"
	"math/big"
)

// Go's standard library does not implement secp256k1 (SEC 2 section
// 2.4.1), so the little keyceremony needs of it is here: checking that a
// public key is on the curve and verifying an ECDSA signature (SEC 1
// section 4.1.4). Both work on public values only, which is why plain
// math/big without constant-time care is acceptable.

var k1 = struct {
	p, n, b, gx, gy *big.Int
}{
	p:  hexInt("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f"),
	n:  hexInt("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"),
	b:  big.NewInt(7),
	gx: hexInt("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
	gy: hexInt("483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"),
}

func hexInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("hsm: bad constant " + s)
	}
	return n
}

// k1Point is an affine secp256k1 point; nil x means the point at infinity.
type k1Point struct{ x, y *big.Int }

func k1ParsePoint(b []byte) (*k1Point, error) {
	if len(b) != 65 || b[0] != 4 {
		return nil, errors.New("hsm: not an uncompressed secp256k1 point")
	}
	pt := &k1Point{new(big.Int).SetBytes(b[1:33]), new(big.Int).SetBytes(b[33:])}
	if pt.x.Cmp(k1.p) >= 0 || pt.y.Cmp(k1.p) >= 0 {
		return nil, errors.New("hsm: secp256k1 coordinate out of range")
	}
	// y² = x³ + 7 (mod p)
	lhs := new(big.Int).Mul(pt.y, pt.y)
	lhs.Mod(lhs, k1.p)
	rhs := new(big.Int).Mul(pt.x, pt.x)
	rhs.Mul(rhs, pt.x).Add(rhs, k1.b).Mod(rhs, k1.p)
	if lhs.Cmp(rhs) != 0 {
		return nil, errors.New("hsm: point is not on secp256k1")
	}
	return pt, nil
}

func (a *k1Point) add(b *k1Point) *k1Point {
	switch {
	case a.x == nil:
		return b
	case b.x == nil:
		return a
	}
	p := k1.p
	var l *big.Int
	if a.x.Cmp(b.x) == 0 {
		if sum := new(big.Int).Add(a.y, b.y); sum.Mod(sum, p).Sign() == 0 {
			return &k1Point{} // a + (-a)
		}
		// λ = 3x² / 2y
		num := new(big.Int).Mul(a.x, a.x)
		num.Mul(num, big.NewInt(3))
		den := new(big.Int).Lsh(a.y, 1)
		l = num.Mul(num, den.ModInverse(den, p))
	} else {
		// λ = (y2 - y1) / (x2 - x1)
		num := new(big.Int).Sub(b.y, a.y)
		den := new(big.Int).Sub(b.x, a.x)
		den.Mod(den, p)
		l = num.Mul(num, den.ModInverse(den, p))
	}
	l.Mod(l, p)
	x := new(big.Int).Mul(l, l)
	x.Sub(x, a.x).Sub(x, b.x).Mod(x, p)
	y := new(big.Int).Sub(a.x, x)
	y.Mul(y, l).Sub(y, a.y).Mod(y, p)
	return &k1Point{x, y}
}

func (a *k1Point) mul(k *big.Int) *k1Point {
	r := &k1Point{}
	for i := k.BitLen() - 1; i >= 0; i-- {
		r = r.add(r)
		if k.Bit(i) == 1 {
			r = r.add(a)
		}
	}
	return r
}

// k1Verify verifies an ECDSA signature (r, s) over a 32-byte digest.
func k1Verify(pub *k1Point, digest []byte, r, s *big.Int) bool {
	n := k1.n
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 || len(digest) > 32 {
		return false
	}
	e := new(big.Int).SetBytes(digest)
	w := new(big.Int).ModInverse(s, n)
	u1 := new(big.Int).Mul(e, w)
	u1.Mod(u1, n)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, n)
	x := (&k1Point{k1.gx, k1.gy}).mul(u1).add(pub.mul(u2))
	if x.x == nil {
		return false
	}
	return new(big.Int).Mod(x.x, n).Cmp(r) == 0
}
