package wrap

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/hsm"
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

// Prepared is what one target's wrap needs in the token, made before the wrap: the cloud's
// wrapping key and, for the composed and host-assisted strategies, the ephemeral AES key. When
// the target key is CKA_WRAP_WITH_TRUSTED these must be CKA_TRUSTED, which only the security
// officer may set, so Prepare runs while the security officer is logged in and Wrap later, once
// the user is.
type Prepared struct {
	res     Result
	pub     *hsm.Key
	eph     *hsm.Key
	sealed  []byte // host-assisted: RSA-OAEP of the ephemeral key, made when it was imported
	trusted bool
	// fingerprint is the cloud key's: Wrap refuses parameters with another key (a file changed
	// between the trust step and the witness's check).
	fingerprint string
}

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

// Prepare picks the strategy for wrapping a key of spec for p's target, and makes the objects
// the wrap needs, marked CKA_TRUSTED when trusted. It validates p against spec first, so expired
// parameters are never used. The only secret that can touch host memory is a host-assisted
// ephemeral key (only if allowHostAssisted): it is RSA-OAEP encrypted here and zeroed at once.
func Prepare(s *hsm.Session, p *Params, spec hsmspec.KeySpec, allowHostAssisted, trusted bool) (_ *Prepared, err error) {
	if _, err := p.Validate(spec, time.Now()); err != nil {
		return nil, err
	}
	if err := CheckExactPKCS8(s, p, spec); err != nil {
		return nil, err
	}
	res, err := p.plan(s.Capabilities(), allowHostAssisted)
	if err != nil {
		return nil, err
	}
	pr := &Prepared{res: *res, trusted: trusted, fingerprint: p.Fingerprint()}
	defer func() {
		if err != nil {
			pr.Destroy(s)
		}
	}()
	if pr.pub, err = s.ImportRSAPublicKey(p.PublicKeyDER, trusted); err != nil {
		return nil, p.Target.errorf("import the cloud's wrapping key into the token: %w", err)
	}
	switch res.Strategy {
	case StrategyComposed:
		pr.eph, err = s.GenerateSessionAES(ephemeralBytes*8, trusted)
	case StrategyHostAssisted:
		pr.eph, pr.sealed, err = hostEphemeral(s, p.rsaKey(), p.method.hash, trusted)
	}
	if err != nil {
		return nil, p.Target.errorf("make the ephemeral AES key: %w", err)
	}
	return pr, nil
}

// Objects lists what Prepare made, for the record.
func (pr *Prepared) Objects() []TrustedObject {
	objs := []TrustedObject{{Kind: "cloud wrapping key", ID: fmt.Sprintf("%x", pr.pub.ID), Fingerprint: pr.fingerprint, Trusted: pr.trusted}}
	if pr.eph != nil {
		objs = append(objs, TrustedObject{Kind: "ephemeral AES-256 key", ID: fmt.Sprintf("%x", pr.eph.ID), Trusted: pr.trusted})
	}
	return objs
}

// Destroy destroys the objects Prepare made; Wrap calls it.
func (pr *Prepared) Destroy(s *hsm.Session) error {
	var errs []error
	for _, k := range []*hsm.Key{pr.eph, pr.pub} {
		if k != nil {
			errs = append(errs, s.Destroy(k))
		}
	}
	pr.eph, pr.pub = nil, nil
	return errors.Join(errs...)
}

// Wrap wraps key under the cloud's public key in the format p's profile needs, with the
// objects pr holds, and destroys them. It validates p against the key again first. The target
// key leaves the token only through C_WrapKey.
func Wrap(s *hsm.Session, p *Params, key *hsm.Key, pr *Prepared) (res *Result, err error) {
	defer func() {
		if derr := pr.Destroy(s); derr != nil && err == nil {
			res, err = nil, p.Target.errorf("destroy the wrapping objects: %w", derr)
		}
	}()
	if pr.pub == nil {
		return nil, p.Target.errorf("the wrapping objects were already used or destroyed")
	}
	if pr.fingerprint != p.Fingerprint() {
		return nil, p.Target.errorf("the wrapping key marked trusted (%s) is not the one checked (%s); nothing was wrapped\nhint: the parameters file changed during the ceremony; find out why before going on", pr.fingerprint, p.Fingerprint())
	}
	if _, err := p.Validate(key.Spec, time.Now()); err != nil {
		return nil, err
	}
	res = &Result{Strategy: pr.res.Strategy, Reason: pr.res.Reason, Mechanisms: pr.res.Mechanisms}
	h := p.method.hash
	switch {
	case res.Strategy == StrategyNative && p.method.cons == direct:
		res.Blob, err = s.WrapOAEP(pr.pub, h, key)
	case res.Strategy == StrategyNative:
		res.Blob, err = s.WrapRSAAES(pr.pub, h, key)
	case res.Strategy == StrategyComposed:
		res.Blob, err = composeInToken(s, pr.pub, h, pr.eph, key)
	default:
		var w2 []byte
		if w2, err = s.WrapKWP(pr.eph, key); err == nil {
			res.Blob = append(bytes.Clone(pr.sealed), w2...)
		}
	}
	if err != nil {
		return nil, p.Target.errorf("%s wrapping: %w", res.Strategy, err)
	}
	if err := p.checkBlob(res.Blob); err != nil {
		return nil, err
	}
	return res, nil
}

// CheckExactPKCS8 refuses a private key type whose PKCS#8 the token pads inside the AES-KWP
// part of an RSA-AES format (hsm.ProbePKCS8), unless the target allows it: the cloud would
// receive the padding as part of the key. Secret keys and direct formats are not affected.
func CheckExactPKCS8(s *hsm.Session, p *Params, spec hsmspec.KeySpec) error {
	if spec.Type != hsmspec.RSA && spec.Type != hsmspec.EC || p.method.cons != rsaAES || p.Target.AllowPaddedPKCS8 {
		return nil
	}
	fit, err := s.ProbePKCS8(spec)
	if err != nil {
		return p.Target.errorf("%w", err)
	}
	if !fit.Exact() {
		return p.Target.errorf("token %q pads %s private keys before AES key wrap (the PKCS#8 DER has %d bytes, the KWP length field says %d), so %s would receive %d zero bytes as part of the key\nhint: use an HSM that wraps PKCS#8 exactly, or set allow_padded_pkcs8: true on this target if the cloud accepts trailing bytes (recorded as an exception)",
			s.Token().Label, spec, fit.DERLength, fit.LengthField, CloudName(p.Target.Profile), fit.LengthField-fit.DERLength)
	}
	return nil
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

// composeInToken builds CKM_RSA_AES_KEY_WRAP from its parts, all in the token.
func composeInToken(s *hsm.Session, pub *hsm.Key, h crypto.Hash, eph, key *hsm.Key) ([]byte, error) {
	w1, err := s.WrapOAEP(pub, h, eph)
	if err != nil {
		return nil, err
	}
	w2, err := s.WrapKWP(eph, key)
	if err != nil {
		return nil, err
	}
	return append(w1, w2...), nil
}

// hostEphemeral makes the ephemeral key of the host-assisted strategy: bytes from the token's
// RNG, imported as a session key and RSA-OAEP encrypted in Go, then zeroed. It is the only
// secret that touches host memory.
func hostEphemeral(s *hsm.Session, rsaPub *rsa.PublicKey, h crypto.Hash, trusted bool) (*hsm.Key, []byte, error) {
	raw := make([]byte, ephemeralBytes)
	defer clear(raw)
	if _, err := io.ReadFull(s.Rand(), raw); err != nil {
		return nil, nil, fmt.Errorf("random bytes from the token: %w", err)
	}
	eph, err := s.ImportSessionAES(raw, trusted)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := rsa.EncryptOAEP(h.New(), rand.Reader, rsaPub, raw, nil)
	if err != nil {
		s.Destroy(eph)
		return nil, nil, err
	}
	return eph, sealed, nil
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
