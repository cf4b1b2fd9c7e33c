package attest

import (
	"encoding/binary"
	"testing"

	"github.com/keyceremony/keyceremony/wrap/attest/internal/synth"
)

// FuzzParseStatement: any bytes, in either layout, parse or are refused; what parses holds only
// values inside the signed bytes.
func FuzzParseStatement(f *testing.F) {
	f.Fuzz(func(t *testing.T, v2 bool, b []byte) {
		format := FormatV1
		if v2 {
			format = FormatV2
		}
		s, err := ParseStatement(format, b)
		if err != nil {
			return
		}
		if len(s.Signature) != signatureLen || len(s.Signed)+signatureLen != len(b) {
			t.Fatalf("split %d+%d of %d", len(s.Signed), len(s.Signature), len(b))
		}
		for _, o := range []Attributes{s.Public, s.Private} {
			for _, v := range o {
				if len(v) > len(s.Signed) {
					t.Fatal("an attribute larger than the signed bytes")
				}
			}
		}
		if v2 && binary.BigEndian.Uint32(b[8:]) != uint32(len(b)) {
			t.Fatal("V2 parsed with a wrong total size")
		}
	})
}

// FuzzCheckGCP: any import job JSON is refused or attested, against the synthetic roots, without
// a panic; only a job that passes every step gets the verdict.
func FuzzCheckGCP(f *testing.F) {
	f.Add(read(f, "job-v1.json"))
	f.Add(read(f, "job-v2.json"))
	roots := synthetic(f)
	f.Fuzz(func(t *testing.T, job []byte) {
		r, err := checkGCP(job, nil, checkTime, roots)
		if err == nil && (r.Verdict != VerdictAttested || r.Key.Extractable || !r.Key.NeverExtractable) {
			t.Fatalf("passed with %+v", r)
		}
	})
}

// FuzzGunzip: damaged gzip streams are refused, never expanded past the limit.
func FuzzGunzip(f *testing.F) {
	f.Add(synth.Gzip([]byte("statement")))
	f.Fuzz(func(t *testing.T, b []byte) {
		if out, err := Gunzip(b); err == nil && len(out) > maxStatement {
			t.Fatal("over the limit")
		}
	})
}
