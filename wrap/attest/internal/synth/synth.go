// Package synth builds synthetic attestation material with the structure of a Google Cloud KMS
// import job's: a manufacturer root, card and partition certificate; an owner root with a
// certificate for the same card key and one for the same partition key; and statements in both
// layouts the package attest reads, signed with the partition key. It is for tests and for the
// generator in ../../testdata only: nothing here is real, and the shipped binary never trusts it.
package synth

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"time"
)

// Attribute numbers (OBJ_ATTR_*), as the package attest documents them.
const (
	Class            = 0x0000
	KeyType          = 0x0100
	Sensitive        = 0x0103
	Modulus          = 0x0120
	PublicExponent   = 0x0122
	Extractable      = 0x0162
	Local            = 0x0163
	NeverExtractable = 0x0164
)

// Attr is one (type, value) attribute.
type Attr struct {
	Type  uint32
	Value []byte
}

// KeyObjects are the attributes of an HSM-generated RSA key pair as the HSM attests them: the
// public key object and the private key object, with a wrapping key's flags (sensitive, local,
// never extractable).
func KeyObjects(pub *rsa.PublicKey) (public, private []Attr) {
	n, e := pub.N.Bytes(), big.NewInt(int64(pub.E)).Bytes()
	public = []Attr{{Class, []byte{0, 0, 0, 2}}, {KeyType, []byte{0, 0, 0, 0}}, {Modulus, n}, {PublicExponent, e}}
	private = []Attr{{Class, []byte{0, 0, 0, 3}}, {KeyType, []byte{0, 0, 0, 0}}, {Sensitive, []byte{1}},
		{Modulus, n}, {PublicExponent, e}, {Extractable, []byte{0}}, {Local, []byte{1}}, {NeverExtractable, []byte{1}}}
	return public, private
}

// Set returns attrs with typ set to v (added when absent).
func Set(attrs []Attr, typ uint32, v []byte) []Attr {
	out := append([]Attr(nil), attrs...)
	for i := range out {
		if out[i].Type == typ {
			out[i].Value = v
			return out
		}
	}
	return append(out, Attr{typ, v})
}

// object is an object header (handle, attribute count, object size: big-endian uint32) and the
// attributes as (type, length: big-endian uint32, value).
func object(handle uint32, attrs []Attr) []byte {
	var body bytes.Buffer
	for _, a := range attrs {
		body.Write(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, a.Type), uint32(len(a.Value))))
		body.Write(a.Value)
	}
	h := binary.BigEndian.AppendUint32(nil, handle)
	h = binary.BigEndian.AppendUint32(h, uint32(len(attrs)))
	h = binary.BigEndian.AppendUint32(h, uint32(12+body.Len()))
	return append(h, body.Bytes()...)
}

// V1 is the CAVIUM_V1_COMPRESSED layout before signing: a 20-byte header (zero here; its content
// is not read) and the private key object at byte 20.
func V1(private []Attr) []byte {
	return append(make([]byte, 20), object(0x2002, private)...)
}

// V2 is the CAVIUM_V2_COMPRESSED layout before signing: a response header (response code, request
// flags, total size, buffer size), then the buffer: an info header (object version, request
// flags, offset of the first object, offset of the second, big-endian uint16, offsets from the
// info header) and the public and private key objects.
func V2(public, private []Attr) []byte {
	pub, priv := object(0x2001, public), object(0x2002, private)
	info := binary.BigEndian.AppendUint16(nil, 1)
	info = binary.BigEndian.AppendUint16(info, 3)
	info = binary.BigEndian.AppendUint16(info, 8)
	info = binary.BigEndian.AppendUint16(info, uint16(8+len(pub)))
	buf := append(append(info, pub...), priv...)
	h := binary.BigEndian.AppendUint32(nil, 0)
	h = binary.BigEndian.AppendUint32(h, 3)
	h = binary.BigEndian.AppendUint32(h, uint32(16+len(buf)+256))
	h = binary.BigEndian.AppendUint32(h, uint32(len(buf)))
	return append(h, buf...)
}

// Sign appends the RSA PKCS#1 v1.5 SHA-256 signature of data under k, as the HSM does.
func Sign(k *rsa.PrivateKey, data []byte) []byte {
	d := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
	if err != nil {
		panic(err)
	}
	return append(append([]byte(nil), data...), sig...)
}

// Gzip compresses a statement as attestation.content carries it.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// Cert issues a certificate for pub named cn by parent (self-signed when parent is nil), valid
// from notBefore to notAfter.
func Cert(cn string, pub *rsa.PublicKey, parent *x509.Certificate, signer *rsa.PrivateKey, serial int64, notBefore, notAfter time.Time, ca bool) *x509.Certificate {
	t := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"keyceremony synthetic test PKI"}},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true, IsCA: ca,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	if parent == nil {
		parent = t
	}
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, signer)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// PEM encodes certificates.
func PEM(certs ...*x509.Certificate) string {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// Chains are the three certChains lists of an import job.
type Chains struct{ Cavium, Card, Partition []string }

// Job is the JSON of gcloud kms import-jobs describe --format=json for an HSM job with the given
// wrapping key, statement (gzip-compressed) and chains.
func Job(pub *rsa.PublicKey, format string, content []byte, ch Chains) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	j := map[string]any{
		"name":            "projects/synthetic/locations/global/keyRings/ring/importJobs/job",
		"importMethod":    "RSA_OAEP_3072_SHA256_AES_256",
		"protectionLevel": "HSM",
		"state":           "ACTIVE",
		"createTime":      "2026-11-27T10:00:00Z",
		"expireTime":      "2026-11-30T10:00:00Z",
		"publicKey":       map[string]string{"pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))},
		"attestation": map[string]any{
			"format":     format,
			"content":    base64.StdEncoding.EncodeToString(content),
			"certChains": map[string][]string{"caviumCerts": ch.Cavium, "googleCardCerts": ch.Card, "googlePartitionCerts": ch.Partition},
		},
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
