package wrap

import (
	"crypto"
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// The wrapping strategies, strongest first.
const (
	// StrategyNative: one PKCS#11 mechanism does the whole cloud format in the token.
	StrategyNative = "native"
	// StrategyComposed: an ephemeral AES-256 key made in the token, wrapped with
	// CKM_RSA_PKCS_OAEP; the target wrapped under it with CKM_AES_KEY_WRAP_PAD; the ephemeral
	// key destroyed. Nothing secret leaves the token in clear.
	StrategyComposed = "composed-in-token"
	// StrategyHostAssisted: the ephemeral AES key comes from the token's RNG into host memory,
	// is imported as a session key to wrap the target with CKM_AES_KEY_WRAP_PAD in the token,
	// and is OAEP-encrypted in Go, then zeroed. Only when the plan allows it.
	StrategyHostAssisted = "host-assisted"
)

// Result is a wrapped key and how it was made.
type Result struct {
	// Blob is the key material in the cloud's format (the construction; each package adds the
	// cloud's own encoding).
	Blob []byte
	// Strategy is StrategyNative, StrategyComposed or StrategyHostAssisted.
	Strategy string
	// Reason says why stronger strategies were not available, for the transcript.
	Reason string
	// Mechanisms names the PKCS#11 mechanisms used in the token, and any step done on the host.
	Mechanisms []string
}

// ephemeralBytes is the size of the ephemeral AES key of every RSA-AES format (AES-256).
const ephemeralBytes = 32

// TrustedObject names an object Prepare made, for the record.
type TrustedObject struct {
	Kind        string `json:"kind"`                  // "cloud wrapping key", "ephemeral AES-256 key", "backup key"
	Target      string `json:"target,omitempty"`      // the target it is for
	ID          string `json:"id"`                    // hex CKA_ID
	Label       string `json:"label,omitempty"`       // token objects only
	Fingerprint string `json:"fingerprint,omitempty"` // the cloud key's
	KCV         string `json:"kcv,omitempty"`         // the backup key's
	Trusted     bool   `json:"CKA_TRUSTED"`
}

// plan picks the strategy from the token's capabilities, before anything is wrapped.
func (p *Params) plan(caps hsmspec.Capabilities, allowHostAssisted bool) (*Result, error) {
	t := &p.Target
	h := p.method.hash
	hn := h.String()
	if p.method.cons == direct {
		if caps.OAEP[h] {
			return &Result{Strategy: StrategyNative, Reason: fmt.Sprintf("the token does CKM_RSA_PKCS_OAEP with %s", hn),
				Mechanisms: []string{"CKM_RSA_PKCS_OAEP " + hn}}, nil
		}
		return nil, t.errorf("the token cannot do CKM_RSA_PKCS_OAEP with %s, which %s needs; host-assisted wrapping cannot help, since the target key itself would have to leave the token\nhint: %s", hn, p.Algorithm, p.orAlternative("use an HSM that does OAEP with "+hn))
	}
	if caps.RSAAES[h] {
		return &Result{Strategy: StrategyNative, Reason: fmt.Sprintf("the token does CKM_RSA_AES_KEY_WRAP with %s", hn),
			Mechanisms: []string{"CKM_RSA_AES_KEY_WRAP " + hn}}, nil
	}
	if !caps.KWP {
		return nil, t.errorf("the token can do neither CKM_RSA_AES_KEY_WRAP with %s nor CKM_AES_KEY_WRAP_PAD, which %s needs\nhint: use an HSM that does CKM_AES_KEY_WRAP_PAD (RFC 5649)", hn, p.Algorithm)
	}
	if caps.OAEP[h] {
		return &Result{Strategy: StrategyComposed,
			Reason:     fmt.Sprintf("the token lacks CKM_RSA_AES_KEY_WRAP with %s; composed in the token from CKM_RSA_PKCS_OAEP (%s) and CKM_AES_KEY_WRAP_PAD with an ephemeral AES-256 session key, then destroyed", hn, hn),
			Mechanisms: []string{"CKM_AES_KEY_GEN", "CKM_RSA_PKCS_OAEP " + hn, "CKM_AES_KEY_WRAP_PAD"}}, nil
	}
	if !allowHostAssisted {
		return nil, t.errorf("the token cannot do CKM_RSA_AES_KEY_WRAP or CKM_RSA_PKCS_OAEP with %s, which %s needs\nhint: %s", hn, p.Algorithm, p.orAlternative(
			"set allow_host_assisted: true on this target (the ephemeral AES key then passes through host memory; the target key does not)",
			"use an HSM that does OAEP with "+hn))
	}
	return &Result{Strategy: StrategyHostAssisted,
		Reason:     fmt.Sprintf("the token lacks CKM_RSA_AES_KEY_WRAP and CKM_RSA_PKCS_OAEP with %s; allowed by the plan: an ephemeral AES-256 key from the token's RNG, imported as a session key for CKM_AES_KEY_WRAP_PAD in the token, OAEP %s on the host, then zeroed and destroyed", hn, hn),
		Mechanisms: []string{"C_GenerateRandom", "CKM_AES_KEY_WRAP_PAD", "host RSAES-OAEP " + hn}}, nil
}

// orAlternative joins the ways out of a missing mechanism with the cloud's other way there, if
// it has one: "a or b", "a, b or c". The other way is SHA-1, or RSA-AES with host assistance.
func (p *Params) orAlternative(ways ...string) string {
	direct, sha1 := p.method.cons == direct, p.method.hash == crypto.SHA1
	switch {
	case p.Target.Profile == ProfileAWS && direct && sha1:
		ways = append(ways, "fetch import parameters with RSA_AES_KEY_WRAP_SHA_1 and allow_host_assisted: true")
	case p.Target.Profile == ProfileAWS && direct:
		ways = append(ways, "fetch import parameters with RSAES_OAEP_SHA_1, or with RSA_AES_KEY_WRAP_SHA_256 and allow_host_assisted: true")
	case sha1: // RSA-AES with SHA-1 already: no weaker way
	case p.Target.Profile == ProfileAWS:
		ways = append(ways, "fetch import parameters with RSA_AES_KEY_WRAP_SHA_1")
	case p.Target.Profile == ProfileGCP:
		ways = append(ways, "create an import job with RSA_OAEP_3072_SHA1_AES_256 or RSA_OAEP_4096_SHA1_AES_256")
	case p.Target.Profile == ProfileVault:
		ways = append(ways, "use hash_function: SHA1")
	case p.Target.Profile == ProfileOCI && direct:
		ways = append(ways, "use RSA_OAEP_AES_SHA256 with allow_host_assisted: true")
	}
	if len(ways) == 1 {
		return ways[0]
	}
	return strings.Join(ways[:len(ways)-1], ", ") + " or " + ways[len(ways)-1]
}

// checkBlob checks the blob's shape: one OAEP block, and for RSA-AES a KWP part after it.
func (p *Params) checkBlob(blob []byte) error {
	k := p.rsaKey().Size()
	ok := len(blob) == k
	if p.method.cons == rsaAES {
		rest := len(blob) - k
		ok = rest >= 16 && rest%8 == 0
	}
	if !ok {
		return p.Target.errorf("the token returned %d bytes, not the shape of %s under RSA-%d\nhint: the token's wrapping mechanism misbehaves; try another HSM or driver version", len(blob), p.Algorithm, k*8)
	}
	return nil
}

// needsExactPKCS8 reports whether the target receives a private key of spec inside AES key wrap
// (an RSA-AES format) and does not allow padding.
func (p *Params) needsExactPKCS8(spec hsmspec.KeySpec) bool {
	return (spec.Type == hsmspec.RSA || spec.Type == hsmspec.EC) && p.method.cons == rsaAES && !p.Target.AllowPaddedPKCS8
}

// RefusePadded refuses a private key type spec whose PKCS#8 the token pads inside the AES-KWP
// part of an RSA-AES format, as fit measured, unless the target allows it: the cloud would
// receive the padding as part of the key. Secret keys and direct formats are not affected.
func (p *Params) RefusePadded(spec hsmspec.KeySpec, fit hsmspec.PKCS8Fit) error {
	if !p.needsExactPKCS8(spec) || fit.Spec != spec || fit.Exact() {
		return nil
	}
	return p.Target.errorf("token %q pads %s private keys before AES key wrap (the PKCS#8 DER has %d bytes, the KWP length field says %d), so %s would receive %d zero bytes as part of the key\nhint: use an HSM that wraps PKCS#8 exactly, or set allow_padded_pkcs8: true on this target if the cloud accepts trailing bytes (recorded as an exception)",
		fit.Token, spec, fit.DERLength, fit.LengthField, CloudName(p.Target.Profile), fit.LengthField-fit.DERLength)
}
