package wrap

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"os"
	"testing"
)

// The fuzz targets feed each import parameter parser arbitrary bytes, seeded with the fixtures:
// it must not panic, and what it accepts must hold a public key that parses again.

func seed(f *testing.F, names ...string) {
	for _, name := range names {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func checkKey(t *testing.T, pub any, der []byte) {
	if pub == nil {
		return
	}
	again, err := x509.ParsePKIXPublicKey(der)
	if err != nil || keySpecName(again) != keySpecName(pub) {
		t.Fatalf("accepted a key whose DER does not parse back: %v", err)
	}
}

func FuzzParseAWSParams(f *testing.F) {
	seed(f, "aws-get-parameters-for-import.json", "aws-get-parameters-for-import-epoch.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := parseAWSParams(b)
		if err != nil {
			return
		}
		if a.keyID == "" || len(a.importToken) < minImportToken || len(a.importToken) > maxImportToken || a.validTo.IsZero() {
			t.Fatalf("accepted %+v", a)
		}
		checkKey(t, a.pub, a.publicKeyDER)
	})
}

// FuzzDecodeImportToken: an accepted token is the file as given, of a token's size, and never
// base64 text that decodes to one.
func FuzzDecodeImportToken(f *testing.F) {
	seed(f, "aws-ImportToken.bin")
	f.Add([]byte(base64.StdEncoding.EncodeToString(make([]byte, 300))))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := decodeImportToken(b)
		if err != nil {
			return
		}
		if !bytes.Equal(tok, b) || len(tok) < minImportToken || len(tok) > maxImportToken {
			t.Fatalf("accepted %d bytes as %d", len(b), len(tok))
		}
		if d, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b))); err == nil && len(d) >= minImportToken {
			t.Fatal("accepted base64 text")
		}
	})
}

// FuzzDecodeJSON: whatever the bytes, decodeJSON returns an error or a value, never a panic, and
// names a BOM or UTF-16 rather than decoding it.
func FuzzDecodeJSON(f *testing.F) {
	seed(f, "aws-get-parameters-for-import.json", "vault-wrapping-key.json")
	f.Add([]byte("\xef\xbb\xbf{}"))
	f.Add([]byte("data:\n  public_key: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v map[string]any
		if decodeJSON(b, &v) == nil && checkText(b) != nil {
			t.Fatal("decoded text with a BOM or in UTF-16")
		}
	})
}

func FuzzParseGCPJob(f *testing.F) {
	seed(f, "gcp-import-job.json", "gcp-import-job-pending.json", "gcp-import-job-expired.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := parseGCPJob(b)
		if err != nil {
			return
		}
		if j.keyRing == "" || j.jobID == "" || (j.state == "ACTIVE" && j.pub == nil) {
			t.Fatalf("accepted %+v", j)
		}
		checkKey(t, j.pub, j.publicKeyDER)
	})
}

func FuzzParsePublicKey(f *testing.F) {
	seed(f, "azure-kek.pem", "azure-kek-ec.pem", "aws-PublicKey.bin", "oci-wrapping-key.pem")
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, der, err := parsePublicKey(b)
		if err != nil {
			return
		}
		checkKey(t, pub, der)
	})
}

func FuzzParseVaultWrappingKey(f *testing.F) {
	seed(f, "vault-wrapping-key.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, der, err := parseVaultWrappingKey(b)
		if err != nil {
			return
		}
		checkKey(t, pub, der)
	})
}

func FuzzParseOCIWrappingKey(f *testing.F) {
	seed(f, "oci-wrapping-key.json", "oci-wrapping-key.pem")
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, der, _, err := parseOCIWrappingKey(b)
		if err != nil {
			return
		}
		checkKey(t, pub, der)
	})
}

func FuzzParseAzureKID(f *testing.F) {
	f.Add(azureKID)
	f.Add(azureHSMKID)
	f.Fuzz(func(t *testing.T, kid string) {
		vault, _, err := parseAzureKID(kid)
		if err != nil {
			return
		}
		if vault == "" || !bytes.HasPrefix([]byte(kid), []byte("https://")) {
			t.Fatalf("accepted %q", kid)
		}
	})
}
