package attest

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// Anchor is a pinned root certificate: its name, the SHA-256 of its DER, and the certificate.
type Anchor struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	cert   *x509.Certificate
}

// anchors are the roots a chain may start from.
type anchors struct{ manufacturer, owner []Anchor }

// The pins. Each PEM in roots/ must hash to its pin, or the package does not load. Sources:
// the package documentation.
var pins = []struct {
	file, name, sha256 string
	owner              bool
}{
	{"marvell-liquidsecurity-2015.pem", "Marvell LiquidSecurity root (localca.liquidsecurity.cavium.com, 2015-11-19 to 2025-11-16)",
		"975757f0d76640e03d14760f8fc9e3a55826fa7807b2c392f7801a95bd69cc28", false},
	{"marvell-liquidsecurity-2024.pem", "Marvell LiquidSecurity root, reissued with the same key (2024-07-25 to 2034-07-23)",
		"230143df00e0b452743e068a5b3fc08df8f06cefc4854ea627aeb7ebd70ee2f4", false},
	{"google-hawksbill-root-v1-prod.pem", "Google Hawksbill Root v1 prod (2017-07-01 to 2030-01-01)",
		"46b5fd351d56a0721ca0afcd1731c0f7b74e3941eb818bfd0ec36e29df0de095", true},
}

//go:embed roots/*.pem
var rootFiles embed.FS

// pinned are the shipped anchors; nothing else is given to the checks outside this package's tests.
var pinned = mustLoadPins()

func mustLoadPins() anchors {
	a, err := loadPins()
	if err != nil {
		panic(err)
	}
	return a
}

func loadPins() (anchors, error) {
	var a anchors
	for _, p := range pins {
		b, err := rootFiles.ReadFile("roots/" + p.file)
		if err != nil {
			return a, err
		}
		anc, err := anchorFromPEM(p.name, b)
		if err != nil {
			return a, err
		}
		if anc.SHA256 != p.sha256 {
			return a, fmt.Errorf("roots/%s has SHA-256 %s, not the pinned %s", p.file, anc.SHA256, p.sha256)
		}
		if p.owner {
			a.owner = append(a.owner, anc)
		} else {
			a.manufacturer = append(a.manufacturer, anc)
		}
	}
	return a, nil
}

// anchorFromPEM reads one CERTIFICATE block.
func anchorFromPEM(name string, b []byte) (Anchor, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) > 0 {
		return Anchor{}, fmt.Errorf("%s: not one PEM certificate", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return Anchor{}, fmt.Errorf("%s: %v", name, err)
	}
	return Anchor{Name: name, SHA256: certHash(c), cert: c}, nil
}

func certHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// Pinned lists the shipped anchors, manufacturer roots first, for documentation and `attestation
// check` output.
func Pinned() []Anchor {
	return append(append([]Anchor(nil), pinned.manufacturer...), pinned.owner...)
}
