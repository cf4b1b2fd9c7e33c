package attest

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestPinnedCertificates: the pinned PEMs are the certificates the package documentation names,
// and the reissued Marvell root carries the 2015 root's key, which is why the expired one may
// stay an anchor.
func TestPinnedCertificates(t *testing.T) {
	p := Pinned()
	for i, want := range []struct {
		cn       string
		notAfter time.Time
	}{
		{"localca.liquidsecurity.cavium.com", time.Date(2025, 11, 16, 13, 55, 25, 0, time.UTC)},
		{"localca.liquidsecurity.cavium.com", time.Date(2034, 7, 23, 20, 29, 20, 0, time.UTC)},
		{"Hawksbill Root v1 prod", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		c := p[i].cert
		if c.Subject.CommonName != want.cn || !c.NotAfter.Equal(want.notAfter) || c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
			t.Errorf("pin %d: %s, not after %s", i, c.Subject, c.NotAfter)
		}
	}
	if !bytes.Equal(p[0].cert.RawSubjectPublicKeyInfo, p[1].cert.RawSubjectPublicKeyInfo) || !bytes.Equal(p[0].cert.RawSubject, p[1].cert.RawSubject) {
		t.Error("the reissued Marvell root has another key or name than the 2015 root")
	}
	// The synthetic manufacturer root expired before the check time, as Marvell's did: the
	// passing checks in TestCheckBothFormats rely on the anchor's dates not being checked.
	if m := cert(t, "manufacturer-root"); !m.NotAfter.Before(checkTime) {
		t.Fatalf("the synthetic manufacturer root is valid until %s; it must have expired", m.NotAfter)
	}
}

// TestOpenSSLAgrees: openssl verifies the synthetic chains and the statement's signature the way
// the check reads them: the gzip stream, the last 256 bytes the PKCS#1 v1.5 SHA-256 signature of
// the rest under the partition certificate's key.
func TestOpenSSLAgrees(t *testing.T) {
	dir := t.TempDir()
	j, err := ParseJob(read(t, "job-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	content, _ := base64.StdEncoding.DecodeString(j.Attestation.Content)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	openssl := func(args ...string) []byte {
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
		return out
	}
	gz := write("statement.gz", content)
	raw, err := exec.Command("gzip", "-dc", gz).Output()
	if err != nil {
		t.Fatal(err)
	}
	data, sig := write("data", raw[:len(raw)-256]), write("sig", raw[len(raw)-256:])
	pub := write("partition.pub", openssl("x509", "-in", "testdata/pki/partition.pem", "-pubkey", "-noout"))
	if out := openssl("dgst", "-sha256", "-verify", pub, "-signature", sig, data); !bytes.Contains(out, []byte("Verified OK")) {
		t.Fatalf("openssl: %s", out)
	}
	s, err := ParseStatement(FormatV2, raw)
	if err != nil || !bytes.Equal(s.Signed, raw[:len(raw)-256]) {
		t.Fatalf("%v", err)
	}
	chain := write("chain.pem", append(read(t, "pki/card.pem"), read(t, "pki/partition.pem")...))
	openssl("verify", "-no_check_time", "-CAfile", "testdata/pki/manufacturer-root.pem", "-untrusted", chain, "testdata/pki/partition.pem")
	openssl("verify", "-no_check_time", "-CAfile", "testdata/pki/owner-root.pem", "testdata/pki/owner-partition.pem")
}
