//go:build ignore

// gen writes the synthetic test PKI and import jobs of the package attest's tests (run by go
// generate in wrap/attest; it needs no network). Nothing here is real: the roots are made up, and
// only the tests, never the shipped binary, trust them.
//
//	pki/manufacturer-root  stands for Marvell's LiquidSecurity root; expired on 2025-11-16 like it
//	pki/card               the HSM card, issued by the manufacturer root
//	pki/partition          the HSM partition, issued by the card; it signs the statements
//	pki/owner-root         stands for Google's Hawksbill Root v1 prod
//	pki/owner-card         the owner's certificate for the card key, issued by the owner root
//	pki/owner-partition    the owner's certificate for the partition key, issued by the owner root
//	pki/wrapping           the import job's key (RSA-3072), attested by the statements
//	pki/other-root         a root nobody pins, with other-card: a certificate for the card key
//	pki/owner-card-other   the owner root's certificate for another key than the card's
//
// job-v1.json and job-v2.json are import jobs whose statements (CAVIUM_V1_COMPRESSED and
// CAVIUM_V2_COMPRESSED) attest the wrapping key; the fuzz seeds are their decompressed statements.
package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keyceremony/keyceremony/wrap/attest/internal/synth"
)

func main() {
	must(os.MkdirAll("pki", 0o755))
	key := func(name string, bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		must(err)
		der, err := x509.MarshalPKCS8PrivateKey(k)
		must(err)
		must(os.WriteFile(filepath.Join("pki", name+".key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o644))
		return k
	}
	cert := func(name string, c *x509.Certificate) *x509.Certificate {
		must(os.WriteFile(filepath.Join("pki", name+".pem"), []byte(synth.PEM(c)), 0o644))
		return c
	}
	day := func(s string) time.Time { t, err := time.Parse("2006-01-02", s); must(err); return t }

	mk, ck, pk, ok, xk := key("manufacturer-root", 2048), key("card", 2048), key("partition", 2048), key("owner-root", 2048), key("other-root", 2048)
	wk := key("wrapping", 3072)
	mRoot := cert("manufacturer-root", synth.Cert("synthetic manufacturer root", &mk.PublicKey, nil, mk, 1, day("2015-11-19"), day("2025-11-16"), true))
	card := cert("card", synth.Cert("synthetic card", &ck.PublicKey, mRoot, mk, 2, day("2016-01-01"), day("2036-01-01"), true))
	part := cert("partition", synth.Cert("synthetic partition", &pk.PublicKey, card, ck, 3, day("2016-01-01"), day("2036-01-01"), false))
	oRoot := cert("owner-root", synth.Cert("synthetic owner root", &ok.PublicKey, nil, ok, 1, day("2017-07-01"), day("2030-01-01"), true))
	oCard := cert("owner-card", synth.Cert("synthetic owner card", &ck.PublicKey, oRoot, ok, 2, day("2018-01-01"), day("2030-01-01"), false))
	oPart := cert("owner-partition", synth.Cert("synthetic owner partition", &pk.PublicKey, oRoot, ok, 3, day("2018-01-01"), day("2030-01-01"), false))
	xRoot := cert("other-root", synth.Cert("synthetic other root", &xk.PublicKey, nil, xk, 1, day("2015-01-01"), day("2035-01-01"), true))
	// Same subject as the card, so the partition certificate would chain to it.
	cert("other-card", synth.Cert("synthetic card", &ck.PublicKey, xRoot, xk, 2, day("2016-01-01"), day("2036-01-01"), true))
	cert("owner-card-other", synth.Cert("synthetic owner card", &xk.PublicKey, oRoot, ok, 4, day("2018-01-01"), day("2030-01-01"), false))

	chains := synth.Chains{Cavium: []string{synth.PEM(card, part)}, Card: []string{synth.PEM(oCard)}, Partition: []string{synth.PEM(oPart)}}
	pub, priv := synth.KeyObjects(&wk.PublicKey)
	for _, f := range []struct {
		file, format string
		stmt         []byte
	}{{"v1", "CAVIUM_V1_COMPRESSED", synth.V1(priv)}, {"v2", "CAVIUM_V2_COMPRESSED", synth.V2(pub, priv)}} {
		signed := synth.Sign(pk, f.stmt)
		must(os.WriteFile("job-"+f.file+".json", synth.Job(&wk.PublicKey, f.format, synth.Gzip(signed), chains), 0o644))
		dir := filepath.Join("fuzz", "FuzzParseStatement")
		must(os.MkdirAll(dir, 0o755))
		seed := fmt.Sprintf("go test fuzz v1\nbool(%t)\n[]byte(%q)\n", f.file == "v2", signed)
		must(os.WriteFile(filepath.Join(dir, f.file), []byte(seed), 0o644))
	}
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
