package wrap

import (
	"crypto"
	"slices"
	"testing"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

func capabilities(oaep, rsaAES []crypto.Hash, kwp bool) hsmspec.Capabilities {
	c := hsmspec.Capabilities{OAEP: map[crypto.Hash]bool{}, RSAAES: map[crypto.Hash]bool{}, KWP: kwp}
	for _, h := range oaep {
		c.OAEP[h] = true
	}
	for _, h := range rsaAES {
		c.RSAAES[h] = true
	}
	return c
}

// TestPlan checks the strategy ladder against token capabilities, without a token.
func TestPlan(t *testing.T) {
	sha1, sha256 := crypto.SHA1, crypto.SHA256
	softhsm := capabilities([]crypto.Hash{sha1}, nil, true) // SoftHSM2 2.6.1
	full := capabilities([]crypto.Hash{sha1, sha256}, []crypto.Hash{sha1, sha256}, true)
	oaepOnly := capabilities([]crypto.Hash{sha1, sha256}, nil, true)
	aws := func(alg string) Target { tg := awsTarget(); tg.Algorithm = alg; return tg }
	vault := func(hf string) Target { tg := vaultTarget(); tg.HashFunction = hf; return tg }
	for _, tc := range []struct {
		name     string
		target   Target
		caps     hsmspec.Capabilities
		allow    bool
		strategy string
		reason   string
		mechs    []string
		err      string
	}{
		{"direct sha-1", aws("RSAES_OAEP_SHA_1"), softhsm, false, StrategyNative,
			"the token does CKM_RSA_PKCS_OAEP with SHA-1", []string{"CKM_RSA_PKCS_OAEP SHA-1"}, ""},
		{"direct sha-256 missing", aws("RSAES_OAEP_SHA_256"), softhsm, true, "", "", nil,
			`target "aws-prod": the token cannot do CKM_RSA_PKCS_OAEP with SHA-256, which RSAES_OAEP_SHA_256 needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token` +
				"\nhint: use an HSM that does OAEP with SHA-256 or fetch import parameters with RSAES_OAEP_SHA_1, or with RSA_AES_KEY_WRAP_SHA_256 and allow_host_assisted: true"},
		{"direct sha-1 missing", aws("RSAES_OAEP_SHA_1"), capabilities(nil, nil, true), true, "", "", nil,
			`target "aws-prod": the token cannot do CKM_RSA_PKCS_OAEP with SHA-1, which RSAES_OAEP_SHA_1 needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token` +
				"\nhint: use an HSM that does OAEP with SHA-1 or fetch import parameters with RSA_AES_KEY_WRAP_SHA_1 and allow_host_assisted: true"},
		{"direct sha-256", aws("RSAES_OAEP_SHA_256"), oaepOnly, false, StrategyNative,
			"the token does CKM_RSA_PKCS_OAEP with SHA-256", []string{"CKM_RSA_PKCS_OAEP SHA-256"}, ""},
		{"rsa-aes native", aws("RSA_AES_KEY_WRAP_SHA_256"), full, false, StrategyNative,
			"the token does CKM_RSA_AES_KEY_WRAP with SHA-256", []string{"CKM_RSA_AES_KEY_WRAP SHA-256"}, ""},
		{"rsa-aes composed", aws("RSA_AES_KEY_WRAP_SHA_1"), softhsm, false, StrategyComposed,
			"the token lacks CKM_RSA_AES_KEY_WRAP with SHA-1; composed in the token from CKM_RSA_PKCS_OAEP (SHA-1) and CKM_AES_KEY_WRAP_PAD with an ephemeral AES-256 session key, then destroyed",
			[]string{"CKM_AES_KEY_GEN", "CKM_RSA_PKCS_OAEP SHA-1", "CKM_AES_KEY_WRAP_PAD"}, ""},
		{"rsa-aes composed sha-256", aws("RSA_AES_KEY_WRAP_SHA_256"), oaepOnly, false, StrategyComposed,
			"the token lacks CKM_RSA_AES_KEY_WRAP with SHA-256; composed in the token from CKM_RSA_PKCS_OAEP (SHA-256) and CKM_AES_KEY_WRAP_PAD with an ephemeral AES-256 session key, then destroyed",
			[]string{"CKM_AES_KEY_GEN", "CKM_RSA_PKCS_OAEP SHA-256", "CKM_AES_KEY_WRAP_PAD"}, ""},
		{"rsa-aes host-assisted", aws("RSA_AES_KEY_WRAP_SHA_256"), softhsm, true, StrategyHostAssisted,
			"the token lacks CKM_RSA_AES_KEY_WRAP and CKM_RSA_PKCS_OAEP with SHA-256; allowed by the plan: an ephemeral AES-256 key from the token's RNG, imported as a session key for CKM_AES_KEY_WRAP_PAD in the token, OAEP SHA-256 on the host, then zeroed and destroyed",
			[]string{"C_GenerateRandom", "CKM_AES_KEY_WRAP_PAD", "host RSAES-OAEP SHA-256"}, ""},
		{"rsa-aes not allowed", aws("RSA_AES_KEY_WRAP_SHA_256"), softhsm, false, "", "", nil,
			`target "aws-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which RSA_AES_KEY_WRAP_SHA_256 needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not), use an HSM that does OAEP with SHA-256 or fetch import parameters with RSA_AES_KEY_WRAP_SHA_1"},
		{"no kwp", aws("RSA_AES_KEY_WRAP_SHA_1"), capabilities([]crypto.Hash{sha1}, nil, false), true, "", "", nil,
			`target "aws-prod": the token can do neither CKM_RSA_AES_KEY_WRAP with SHA-1 nor CKM_AES_KEY_WRAP_PAD, which RSA_AES_KEY_WRAP_SHA_1 needs` +
				"\nhint: use an HSM that does CKM_AES_KEY_WRAP_PAD (RFC 5649)"},
		{"vault sha-384 host", vault("SHA384"), oaepOnly, true, StrategyHostAssisted,
			"the token lacks CKM_RSA_AES_KEY_WRAP and CKM_RSA_PKCS_OAEP with SHA-384; allowed by the plan: an ephemeral AES-256 key from the token's RNG, imported as a session key for CKM_AES_KEY_WRAP_PAD in the token, OAEP SHA-384 on the host, then zeroed and destroyed",
			[]string{"C_GenerateRandom", "CKM_AES_KEY_WRAP_PAD", "host RSAES-OAEP SHA-384"}, ""},
		{"vault sha-256 not allowed", vault("SHA256"), softhsm, false, "", "", nil,
			`target "vault-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-256, which hash_function=SHA256 needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not), use an HSM that does OAEP with SHA-256 or use hash_function: SHA1"},
		{"azure no oaep", azureTarget(), capabilities(nil, nil, true), false, "", "", nil,
			`target "azure-prod": the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with SHA-1, which CKM_RSA_AES_KEY_WRAP needs` +
				"\nhint: set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not) or use an HSM that does OAEP with SHA-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := mustLoad(t, tc.target).plan(tc.caps, tc.allow)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error\n%v\nwant\n%s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Strategy != tc.strategy || res.Reason != tc.reason || !slices.Equal(res.Mechanisms, tc.mechs) {
				t.Errorf("got %s %q %q\nwant %s %q %q", res.Strategy, res.Reason, res.Mechanisms, tc.strategy, tc.reason, tc.mechs)
			}
		})
	}
}
