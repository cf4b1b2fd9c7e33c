package attest

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyceremony/keyceremony/wrap/attest/internal/synth"
)

// checkTime is after the synthetic manufacturer root expired (2025-11-16, as Marvell's did).
var checkTime = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// der is the DER of a PEM file in testdata/pki.
func der(t testing.TB, file string) []byte {
	t.Helper()
	blk, _ := pem.Decode(read(t, "pki/"+file))
	return blk.Bytes
}

func cert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der(t, name+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func key(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(der(t, name+".key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// synthetic are the test anchors: given to checkGCP here, never reachable from CheckGCP.
func synthetic(t testing.TB) anchors {
	t.Helper()
	m, o := cert(t, "manufacturer-root"), cert(t, "owner-root")
	return anchors{manufacturer: []Anchor{{Name: "synthetic manufacturer", SHA256: certHash(m), cert: m}},
		owner: []Anchor{{Name: "synthetic owner", SHA256: certHash(o), cert: o}}}
}

func TestCheckBothFormats(t *testing.T) {
	roots := synthetic(t)
	wk := key(t, "wrapping")
	for _, f := range []struct{ file, format string }{{"job-v1.json", FormatV1}, {"job-v2.json", FormatV2}} {
		t.Run(f.format, func(t *testing.T) {
			r, err := checkGCP(read(t, f.file), nil, checkTime, roots)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(&wk.PublicKey)
			want := Attributed{ModulusBits: 3072, ModulusSHA256: sha(wk.N.Bytes()), Exponent: "65537", NeverExtractable: true, Local: true, Sensitive: true}
			if r.Format != f.format || r.Verdict != VerdictAttested || r.Key != want || r.WrappingKey != sha(der) || !r.CheckedAt.Equal(checkTime) {
				t.Errorf("result %+v", r)
			}
			if r.Anchors[0].Name != "synthetic manufacturer" || r.Anchors[1].Name != "synthetic owner" ||
				r.ManufacturerCard != certHash(cert(t, "card")) || r.ManufacturerPartition != certHash(cert(t, "partition")) ||
				r.OwnerCard != certHash(cert(t, "owner-card")) || r.OwnerPartition != certHash(cert(t, "owner-partition")) {
				t.Errorf("chains %+v", r)
			}
		})
	}
}

// The shipped binary trusts only the pinned roots: the synthetic chains are refused.
func TestPinnedRootsRefuseSyntheticChains(t *testing.T) {
	_, err := CheckGCP(read(t, "job-v2.json"), nil, checkTime)
	if err == nil || err.Error() != "caviumCerts: no card certificate is issued by a pinned Marvell root" {
		t.Fatalf("got %v", err)
	}
}

func TestPins(t *testing.T) {
	got := Pinned()
	if len(got) != 3 || !strings.HasPrefix(got[0].Name, "Marvell LiquidSecurity root") || !strings.HasPrefix(got[2].Name, "Google Hawksbill Root v1 prod") {
		t.Fatalf("pinned %+v", got)
	}
	// A PEM that does not hash to its pin stops the package from loading.
	old := pins[2].sha256
	pins[2].sha256 = strings.Repeat("0", 64)
	defer func() { pins[2].sha256 = old }()
	_, err := loadPins()
	want := "roots/google-hawksbill-root-v1-prod.pem has SHA-256 46b5fd351d56a0721ca0afcd1731c0f7b74e3941eb818bfd0ec36e29df0de095, not the pinned " + strings.Repeat("0", 64)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
}

// editJob decodes a job, lets edit change it, and encodes it again.
func editJob(t testing.TB, file string, edit func(j map[string]any, a map[string]any, ch map[string]any)) []byte {
	t.Helper()
	var j map[string]any
	if err := json.Unmarshal(read(t, file), &j); err != nil {
		t.Fatal(err)
	}
	a := j["attestation"].(map[string]any)
	edit(j, a, a["certChains"].(map[string]any))
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withStatement is job-v2.json with a statement built from the wrapping key's objects after
// change, in format, signed by signer.
func withStatement(t testing.TB, format string, signer *rsa.PrivateKey, change func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr)) []byte {
	pub, priv := synth.KeyObjects(&key(t, "wrapping").PublicKey)
	pub, priv = change(pub, priv)
	raw := synth.V2(pub, priv)
	if format == FormatV1 {
		raw = synth.V1(priv)
	}
	content := synth.Gzip(synth.Sign(signer, raw))
	return editJob(t, "job-v2.json", func(_, a, _ map[string]any) {
		a["format"] = format
		a["content"] = base64.StdEncoding.EncodeToString(content)
	})
}

func pemOf(t testing.TB, names ...string) []any {
	var out []any
	for _, n := range names {
		out = append(out, synth.PEM(cert(t, n)))
	}
	return out
}

func TestRefusals(t *testing.T) {
	roots := synthetic(t)
	partition, card := key(t, "partition"), key(t, "card")
	same := func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) { return pub, priv }
	flag := func(typ uint32, v byte) func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) {
		return func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) { return pub, synth.Set(priv, typ, []byte{v}) }
	}
	gz := synth.Gzip(synth.Sign(partition, synth.V2(synth.KeyObjects(&key(t, "wrapping").PublicKey))))
	content := func(b []byte) []byte {
		return editJob(t, "job-v2.json", func(_, a, _ map[string]any) { a["content"] = base64.StdEncoding.EncodeToString(b) })
	}
	for _, c := range []struct {
		name string
		job  []byte
		at   time.Time
		want string
	}{
		{"chain to another root", editJob(t, "job-v2.json", func(_, _, ch map[string]any) { ch["caviumCerts"] = pemOf(t, "other-card", "partition") }), checkTime,
			"caviumCerts: no card certificate is issued by a pinned Marvell root"},
		{"swapped card keys", editJob(t, "job-v2.json", func(_, _, ch map[string]any) { ch["googleCardCerts"] = pemOf(t, "owner-card-other") }), checkTime,
			"googleCardCerts: no certificate for the manufacturer's card key is issued by the pinned Google root"},
		// The owner chain must certify the partition key that signed; a statement signed by one
		// partition key of two that differ is refused here.
		{"owner partition certifies another key", editJob(t, "job-v2.json", func(_, _, ch map[string]any) { ch["googlePartitionCerts"] = pemOf(t, "owner-card") }), checkTime,
			"googlePartitionCerts: no certificate for the manufacturer's partition key is issued by the pinned Google root"},
		{"statement not signed by the partition key", withStatement(t, FormatV2, card, same), checkTime,
			"the statement's signature does not verify under the manufacturer partition key (RSA PKCS#1 v1.5, SHA-256)"},
		{"modulus differs from the job's key", editJob(t, "job-v2.json", func(j, _, _ map[string]any) {
			der, _ := x509.MarshalPKIXPublicKey(&card.PublicKey)
			j["publicKey"] = map[string]any{"pem": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
		}), checkTime, "the attested key's modulus differs from the import job's public key: the HSM attests another key"},
		{"EXTRACTABLE true (V2)", withStatement(t, FormatV2, partition, flag(synth.Extractable, 1)), checkTime,
			"the private key's EXTRACTABLE is true; it must be false"},
		{"EXTRACTABLE true (V1)", withStatement(t, FormatV1, partition, flag(synth.Extractable, 1)), checkTime,
			"the private key's EXTRACTABLE is true; it must be false"},
		{"NEVER_EXTRACTABLE false", withStatement(t, FormatV1, partition, flag(synth.NeverExtractable, 0)), checkTime,
			"the private key's NEVER_EXTRACTABLE is false; it must be true"},
		{"LOCAL false", withStatement(t, FormatV2, partition, flag(synth.Local, 0)), checkTime,
			"the private key's LOCAL is false; it must be true"},
		{"SENSITIVE false", withStatement(t, FormatV2, partition, flag(synth.Sensitive, 0)), checkTime,
			"the private key's SENSITIVE is false; it must be true"},
		{"EXTRACTABLE not a boolean", withStatement(t, FormatV2, partition, flag(synth.Extractable, 2)), checkTime,
			"the private key's EXTRACTABLE is 02, not a boolean"},
		{"public exponent differs", withStatement(t, FormatV2, partition, func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) {
			return synth.Set(pub, synth.PublicExponent, []byte{3}), priv
		}), checkTime, "the attested key's public exponent differs from the import job's public key: the HSM attests another key"},
		{"public key object without its modulus", withStatement(t, FormatV2, partition, func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) {
			return pub[:2], priv
		}), checkTime, "the attested public key object holds no modulus (MODULUS)"},
		{"modulus differs in the private key object only", withStatement(t, FormatV2, partition, func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) {
			return pub, synth.Set(priv, synth.Modulus, card.N.Bytes())
		}), checkTime, "the attested key's modulus differs from the import job's public key: the HSM attests another key"},
		{"not a private key", withStatement(t, FormatV1, partition, func(pub, priv []synth.Attr) ([]synth.Attr, []synth.Attr) {
			return pub, synth.Set(priv, synth.Class, []byte{0, 0, 0, 2})
		}), checkTime, "the attested object is not a private key (CLASS is 00000002)"},
		{"truncated statement", content(gz[:len(gz)-20]), checkTime, "the gzip-compressed statement is damaged or truncated: unexpected EOF"},
		{"statement not gzip", content(synth.Sign(partition, synth.V2(synth.KeyObjects(&key(t, "wrapping").PublicKey)))), checkTime,
			"the statement is not gzip-compressed"},
		{"bytes after the gzip stream", content(append(append([]byte(nil), gz...), 0)), checkTime, "1 bytes follow the gzip-compressed statement"},
		{"format V1 given for a V2 statement", editJob(t, "job-v2.json", func(_, a, _ map[string]any) { a["format"] = FormatV1 }), checkTime,
			"CAVIUM_V1_COMPRESSED: the key's attributes: the object header counts 8193 attributes"},
		{"unknown format", editJob(t, "job-v2.json", func(_, a, _ map[string]any) { a["format"] = "CAVIUM_V3_COMPRESSED" }), checkTime,
			`format "CAVIUM_V3_COMPRESSED" is neither CAVIUM_V1_COMPRESSED nor CAVIUM_V2_COMPRESSED`},
		{"a certificate in no chain", editJob(t, "job-v2.json", func(_, _, ch map[string]any) { ch["caviumCerts"] = pemOf(t, "card", "partition", "other-root") }), checkTime,
			`certChains.caviumCerts holds a certificate that is in no chain to a pinned root: "synthetic other root" (SHA-256 ` + certHash(cert(t, "other-root")) + ")"},
		{"no attestation", editJob(t, "job-v2.json", func(j, _, _ map[string]any) { delete(j, "attestation"); j["protectionLevel"] = "SOFTWARE" }), checkTime,
			`import job projects/synthetic/locations/global/keyRings/ring/importJobs/job has no attestation: its protection level is "SOFTWARE", and only HSM jobs have one`},
		{"HSM job without its attestation", editJob(t, "job-v2.json", func(j, _, _ map[string]any) { delete(j, "attestation") }), checkTime,
			"import job projects/synthetic/locations/global/keyRings/ring/importJobs/job is at protection level HSM, but this JSON of it carries no attestation: it was cut, or not written by gcloud kms import-jobs describe --format=json"},
		{"card certificate expired at the check time", read(t, "job-v2.json"), time.Date(2037, 1, 1, 0, 0, 0, 0, time.UTC),
			`caviumCerts: no card certificate is issued by a pinned Marvell root: "synthetic card" is valid from 2016-01-01T00:00:00Z to 2036-01-01T00:00:00Z, not at the check time 2037-01-01T00:00:00Z`},
		{"owner certificate not yet valid", read(t, "job-v2.json"), time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC),
			`googleCardCerts: no certificate for the manufacturer's card key is issued by the pinned Google root: "synthetic owner card" is valid from 2018-01-01T00:00:00Z to 2030-01-01T00:00:00Z, not at the check time 2017-01-01T00:00:00Z`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := checkGCP(c.job, nil, c.at, roots)
			if err == nil || err.Error() != c.want {
				t.Fatalf("got %v, %+v\nwant %s", err, r, c.want)
			}
		})
	}
}

// The file gcloud writes with --attestation-file stands for attestation.content, and must be the
// same bytes when both are given.
func TestAttestationFile(t *testing.T) {
	roots := synthetic(t)
	job := read(t, "job-v1.json")
	j, _ := ParseJob(job)
	content, _ := base64.StdEncoding.DecodeString(j.Attestation.Content)
	if _, err := checkGCP(job, content, checkTime, roots); err != nil {
		t.Fatal(err)
	}
	empty := editJob(t, "job-v1.json", func(_, a, _ map[string]any) { a["content"] = "" })
	if _, err := checkGCP(empty, content, checkTime, roots); err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(content)
	other[len(other)-1] ^= 1
	if _, err := checkGCP(job, other, checkTime, roots); err == nil || err.Error() != "the attestation file differs from the import job's attestation.content" {
		t.Fatalf("got %v", err)
	}
}

// A signed statement whose bytes were changed after signing fails the signature, whatever changed.
func TestChangedStatement(t *testing.T) {
	roots := synthetic(t)
	_, priv := synth.KeyObjects(&key(t, "wrapping").PublicKey)
	raw := synth.Sign(key(t, "partition"), synth.V1(priv))
	raw[3] ^= 1 // in the header no layout reads
	job := editJob(t, "job-v1.json", func(_, a, _ map[string]any) { a["content"] = base64.StdEncoding.EncodeToString(synth.Gzip(raw)) })
	if _, err := checkGCP(job, nil, checkTime, roots); err == nil || err.Error() != "the statement's signature does not verify under the manufacturer partition key (RSA PKCS#1 v1.5, SHA-256)" {
		t.Fatalf("got %v", err)
	}
}

// A card certificate without the CA flag still issues the partition certificate: the published
// verifiers check the issuer's name and signature only, and so does this one.
func TestCardWithoutCAFlag(t *testing.T) {
	root, rootKey, cardKey, partKey := cert(t, "manufacturer-root"), key(t, "manufacturer-root"), key(t, "card"), key(t, "partition")
	card := synth.Cert("synthetic card", &cardKey.PublicKey, root, rootKey, 7, root.NotBefore, time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC), false)
	part := synth.Cert("synthetic partition", &partKey.PublicKey, card, cardKey, 8, root.NotBefore, time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC), false)
	job := editJob(t, "job-v1.json", func(_, _, ch map[string]any) { ch["caviumCerts"] = []any{synth.PEM(card, part)} })
	if _, err := checkGCP(job, nil, checkTime, synthetic(t)); err != nil {
		t.Fatal(err)
	}
}
