// Package kwp implements AES Key Wrap with Padding, RFC 5649 (NIST SP 800-38F KWP), in software.
//
// keyceremony never wraps a target key on the host: the token does that with
// CKM_AES_KEY_WRAP_PAD. This package lets tests check what the token emitted independently of
// the token and of OpenSSL, and lets the capability probe read the length field of a throwaway
// key's wrap (hsm.ProbePKCS8).
package kwp

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// aivPrefix is the first half of the RFC 5649 alternative initial value; the second half is the
// 32-bit big-endian length of the plaintext.
var aivPrefix = []byte{0xA6, 0x59, 0x59, 0xA6}

// ErrUnwrap is returned for any ciphertext that does not unwrap to a correctly padded plaintext.
var ErrUnwrap = errors.New("integrity check failed")

// maxLen bounds the plaintext: RFC 5649 encodes its length in 32 bits.
const maxLen = 1<<32 - 1

// Wrap wraps plaintext (1 to 2^32-1 bytes) under kek (16, 24 or 32 bytes).
func Wrap(kek, plaintext []byte) ([]byte, error) {
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(plaintext) == 0 || uint64(len(plaintext)) > maxLen {
		return nil, errors.New("plaintext must be 1 to 2^32-1 bytes")
	}
	n := (len(plaintext) + 7) / 8
	out := make([]byte, 8+8*n)
	copy(out, aivPrefix)
	binary.BigEndian.PutUint32(out[4:8], uint32(len(plaintext)))
	copy(out[8:], plaintext) // the rest stays zero: the padding
	if n == 1 {
		b.Encrypt(out, out)
		return out, nil
	}
	var blk [16]byte
	for j := range 6 {
		for i := 1; i <= n; i++ {
			copy(blk[:8], out[:8])
			copy(blk[8:], out[8*i:8*i+8])
			b.Encrypt(blk[:], blk[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(blk[:8])^t)
			copy(out[8*i:8*i+8], blk[8:])
		}
	}
	return out, nil
}

// Unwrap reverses Wrap. It checks the alternative initial value, the encoded length and that the
// padding is zero, and returns ErrUnwrap when any of them is wrong.
func Unwrap(kek, ciphertext []byte) ([]byte, error) {
	b, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < 16 || len(ciphertext)%8 != 0 {
		return nil, ErrUnwrap
	}
	n := len(ciphertext)/8 - 1
	buf := make([]byte, len(ciphertext))
	copy(buf, ciphertext)
	if n == 1 {
		b.Decrypt(buf, buf)
	} else {
		var blk [16]byte
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(blk[:8], binary.BigEndian.Uint64(buf[:8])^t)
				copy(blk[8:], buf[8*i:8*i+8])
				b.Decrypt(blk[:], blk[:])
				copy(buf[:8], blk[:8])
				copy(buf[8*i:8*i+8], blk[8:])
			}
		}
	}
	mli := int(binary.BigEndian.Uint32(buf[4:8]))
	ok := subtle.ConstantTimeCompare(buf[:4], aivPrefix)
	if mli <= 8*(n-1) || mli > 8*n {
		ok = 0
	}
	if ok == 1 {
		var pad byte
		for _, c := range buf[8+mli:] {
			pad |= c
		}
		ok = subtle.ConstantTimeByteEq(pad, 0)
	}
	if ok != 1 {
		clear(buf)
		return nil, ErrUnwrap
	}
	return buf[8 : 8+mli], nil
}
