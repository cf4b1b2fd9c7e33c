//go:build cgo

package wrap

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

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

// CheckExactPKCS8 probes, for a target that needs it (Params.RefusePadded), how the token wraps
// the private key type spec, and refuses a token that pads.
func CheckExactPKCS8(s *hsm.Session, p *Params, spec hsmspec.KeySpec) error {
	if !p.needsExactPKCS8(spec) {
		return nil
	}
	fit, err := s.ProbePKCS8(spec)
	if err != nil {
		return p.Target.errorf("%w", err)
	}
	return p.RefusePadded(spec, fit)
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

// Describe gathers a token key's KeyInfo.
func Describe(s *hsm.Session, k *hsm.Key) (KeyInfo, error) {
	id, err := s.Identify(k)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("identify %q: %w", k.Label, err)
	}
	return KeyInfo{Label: k.Label, Spec: k.Spec, KCV: id.KCV, Fingerprint: id.Fingerprint, Token: s.Token()}, nil
}
