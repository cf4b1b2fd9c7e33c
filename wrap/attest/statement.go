package attest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// The statement formats of an import job's attestation.format.
const (
	FormatV1 = "CAVIUM_V1_COMPRESSED"
	FormatV2 = "CAVIUM_V2_COMPRESSED"
)

// Attribute numbers, as Marvell's and Microsoft's parsers name them (OBJ_ATTR_*); they follow
// the PKCS#11 CKA_* numbers.
const (
	attrClass            = 0x0000
	attrKeyType          = 0x0100
	attrSensitive        = 0x0103
	attrModulus          = 0x0120
	attrPublicExponent   = 0x0122
	attrExtractable      = 0x0162
	attrLocal            = 0x0163
	attrNeverExtractable = 0x0164
)

const (
	classPublicKey  = 2
	classPrivateKey = 3
	keyTypeRSA      = 0
)

const (
	signatureLen = 256     // an RSA-2048 PKCS#1 v1.5 signature
	v1ListOffset = 20      // firmware 2.x: the attribute list starts at byte 20
	maxStatement = 1 << 20 // far above the few kilobytes a key's attributes take
	maxAttrs     = 512
)

// Statement is a parsed attestation statement: the signed bytes, the signature over them, and
// the attributes of the attested key's objects.
type Statement struct {
	Format    string
	Signed    []byte
	Signature []byte
	// Public is the public-key object (V2 only); Private the private-key object.
	Public, Private Attributes
}

// Attributes are one object's attributes by number; values are the raw bytes the HSM wrote.
type Attributes map[uint32][]byte

// Gunzip decompresses attestation.content, which is one gzip member in both formats. Anything
// else, a truncated stream, bytes after the member or more than 1 MiB, is refused.
func Gunzip(content []byte) ([]byte, error) {
	r := bytes.NewReader(content)
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, errors.New("the statement is not gzip-compressed")
	}
	zr.Multistream(false)
	out, err := io.ReadAll(io.LimitReader(zr, maxStatement+1))
	if err != nil {
		return nil, fmt.Errorf("the gzip-compressed statement is damaged or truncated: %v", err)
	}
	if len(out) > maxStatement {
		return nil, fmt.Errorf("the statement decompresses to more than %d bytes", maxStatement)
	}
	// bytes.Reader is an io.ByteReader, so gzip read no further than its member.
	if r.Len() > 0 {
		return nil, fmt.Errorf("%d bytes follow the gzip-compressed statement", r.Len())
	}
	return out, nil
}

// ParseStatement splits a decompressed statement into the signed bytes and the 256-byte signature
// and reads the key's attributes from the layout its format names (see the package documentation).
func ParseStatement(format string, stmt []byte) (*Statement, error) {
	if len(stmt) <= signatureLen {
		return nil, fmt.Errorf("the statement holds %d bytes, not more than its %d-byte signature", len(stmt), signatureLen)
	}
	s := &Statement{Format: format, Signed: stmt[:len(stmt)-signatureLen], Signature: stmt[len(stmt)-signatureLen:]}
	var err error
	switch format {
	case FormatV1:
		s.Private, _, err = readObject(s.Signed, v1ListOffset)
		if err != nil {
			return nil, fmt.Errorf("%s: the key's attributes: %v", format, err)
		}
	case FormatV2:
		if err := s.parseV2(stmt); err != nil {
			return nil, fmt.Errorf("%s: %v", format, err)
		}
	default:
		return nil, fmt.Errorf("format %q is neither %s nor %s", format, FormatV1, FormatV2)
	}
	return s, nil
}

// parseV2 reads the response header, the info header it points to, and the two objects the info
// header points to: the public key, then the private key.
func (s *Statement) parseV2(stmt []byte) error {
	if len(s.Signed) < 16 {
		return errors.New("the response header is cut short")
	}
	total := binary.BigEndian.Uint32(stmt[8:])
	buf := binary.BigEndian.Uint32(stmt[12:])
	if uint64(total) != uint64(len(stmt)) {
		return fmt.Errorf("the response header gives a total size of %d bytes; the statement holds %d", total, len(stmt))
	}
	info := int64(total) - int64(buf) - signatureLen
	if info < 16 || info+8 > int64(len(s.Signed)) {
		return fmt.Errorf("the buffer size %d puts the info header outside the signed bytes", buf)
	}
	h := s.Signed[info:]
	off1, off2 := int64(binary.BigEndian.Uint16(h[4:])), int64(binary.BigEndian.Uint16(h[6:]))
	if off1 < 8 || off2 <= off1 {
		return fmt.Errorf("the info header's object offsets %d and %d are not a public key followed by a private key", off1, off2)
	}
	pub, end, err := readObject(s.Signed, info+off1)
	if err != nil {
		return fmt.Errorf("the public key's attributes: %v", err)
	}
	if end > info+off2 {
		return errors.New("the public key's attributes run into the private key's")
	}
	if s.Private, _, err = readObject(s.Signed, info+off2); err != nil {
		return fmt.Errorf("the private key's attributes: %v", err)
	}
	s.Public = pub
	return nil
}

// readObject reads an object header (handle, attribute count, object size: three big-endian
// uint32) at off and the count (type, length, value) attributes after it, all inside b. It
// returns the attributes and where they end.
func readObject(b []byte, off int64) (Attributes, int64, error) {
	if off < 0 || off+12 > int64(len(b)) {
		return nil, 0, errors.New("the object header is outside the signed bytes")
	}
	count := binary.BigEndian.Uint32(b[off+4:])
	if count == 0 || count > maxAttrs {
		return nil, 0, fmt.Errorf("the object header counts %d attributes", count)
	}
	attrs := Attributes{}
	p := off + 12
	for i := range count {
		if p+8 > int64(len(b)) {
			return nil, 0, fmt.Errorf("attribute %d of %d is cut short", i+1, count)
		}
		typ, n := binary.BigEndian.Uint32(b[p:]), int64(binary.BigEndian.Uint32(b[p+4:]))
		p += 8
		if n > int64(len(b))-p {
			return nil, 0, fmt.Errorf("attribute 0x%04x claims %d bytes; %d are left", typ, n, int64(len(b))-p)
		}
		if _, dup := attrs[typ]; dup {
			return nil, 0, fmt.Errorf("attribute 0x%04x appears twice", typ)
		}
		attrs[typ] = b[p : p+n]
		p += n
	}
	return attrs, p, nil
}

// flag reads a CK_BBOOL attribute: one byte, 0 or 1.
func (a Attributes) flag(typ uint32) (bool, error) {
	v, ok := a[typ]
	switch {
	case !ok:
		return false, fmt.Errorf("%s is missing", attrName(typ))
	case len(v) != 1 || v[0] > 1:
		return false, fmt.Errorf("%s is %x, not a boolean", attrName(typ), v)
	}
	return v[0] == 1, nil
}

// number reads an unsigned big-endian attribute of 1 to 8 bytes (CK_ULONG).
func (a Attributes) number(typ uint32) (uint64, error) {
	v, ok := a[typ]
	if !ok {
		return 0, fmt.Errorf("%s is missing", attrName(typ))
	}
	if len(v) == 0 || len(v) > 8 {
		return 0, fmt.Errorf("%s holds %d bytes, not a number", attrName(typ), len(v))
	}
	var n uint64
	for _, c := range v {
		n = n<<8 | uint64(c)
	}
	return n, nil
}

// bigInt reads a big-endian integer attribute (the modulus, the public exponent); absent is nil.
func (a Attributes) bigInt(typ uint32) *big.Int {
	v, ok := a[typ]
	if !ok {
		return nil
	}
	return new(big.Int).SetBytes(v)
}

func attrName(typ uint32) string {
	if n, ok := map[uint32]string{attrClass: "CLASS", attrKeyType: "KEY_TYPE", attrSensitive: "SENSITIVE",
		attrModulus: "MODULUS", attrPublicExponent: "PUBLIC_EXPONENT", attrExtractable: "EXTRACTABLE",
		attrLocal: "LOCAL", attrNeverExtractable: "NEVER_EXTRACTABLE"}[typ]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", typ)
}
