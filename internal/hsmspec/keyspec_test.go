package hsmspec

import "testing"

func TestParseKeySpec(t *testing.T) {
	for in, want := range map[string]KeySpec{
		"AES-128":      {Type: AES, Bits: 128},
		"aes-256":      {Type: AES, Bits: 256},
		"HMAC-224":     {Type: HMAC, Bits: 224},
		"HMAC-512":     {Type: HMAC, Bits: 512},
		"RSA-4096":     {Type: RSA, Bits: 4096},
		"EC P-256":     {Type: EC, Curve: "P-256", Bits: 256},
		"ec-p-521":     {Type: EC, Curve: "P-521", Bits: 521},
		"EC secp256k1": {Type: EC, Curve: "secp256k1", Bits: 256},
		"EC-P256":      {Type: EC, Curve: "P-256", Bits: 256},
		"ec p384":      {Type: EC, Curve: "P-384", Bits: 384},
	} {
		got, err := ParseKeySpec(in)
		if err != nil || got != want {
			t.Errorf("ParseKeySpec(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, err := ParseKeySpec(got.String()); err != nil || again != got {
			t.Errorf("%q does not survive String(): %q", in, got.String())
		}
	}
	for _, in := range []string{"", "AES", "AES-192", "HMAC-216", "HMAC-520", "HMAC-260", "RSA-1024", "EC P-224", "EC P224", "EC", "DES-64", "AES-x"} {
		if _, err := ParseKeySpec(in); err == nil {
			t.Errorf("ParseKeySpec(%q) succeeded", in)
		}
	}
	_, err := ParseKeySpec("RSA-1024")
	want := `bad key spec "RSA-1024": unsupported type or size` +
		"\nhint: use one of AES-128, AES-256, HMAC-224 to HMAC-512, RSA-2048, RSA-3072, RSA-4096, EC P-256, EC P-384, EC P-521, EC secp256k1"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
