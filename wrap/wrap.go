package wrap

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/hsm"
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

// Wrap wraps key under the cloud's public key in the format p's profile needs, choosing the
// strongest strategy the token can do: native, composed in the token, then host-assisted only if
// allowHostAssisted. It validates p against the key again first, so expired parameters are never
// used. The target key leaves the token only through C_WrapKey.
func Wrap(s *hsm.Session, p *Params, key *hsm.Key, allowHostAssisted bool) (res *Result, err error) {
	if _, err := p.Validate(key.Spec, time.Now()); err != nil {
		return nil, err
	}
	res, err = p.plan(s.Capabilities(), allowHostAssisted)
	if err != nil {
		return nil, err
	}
	pub, err := s.ImportRSAPublicKey(p.PublicKeyDER)
	if err != nil {
		return nil, fmt.Errorf("wrap: target %q: import the cloud's wrapping key into the token: %w", p.Target.label(), err)
	}
	defer func() {
		if derr := s.Destroy(pub); derr != nil && err == nil {
			res, err = nil, fmt.Errorf("wrap: target %q: destroy the imported wrapping key: %w", p.Target.label(), derr)
		}
	}()
	h := p.method.hash
	switch {
	case res.Strategy == StrategyNative && p.method.cons == direct:
		res.Blob, err = s.WrapOAEP(pub, h, key)
	case res.Strategy == StrategyNative:
		res.Blob, err = s.WrapRSAAES(pub, h, key)
	case res.Strategy == StrategyComposed:
		res.Blob, err = composeInToken(s, pub, h, key)
	default:
		res.Blob, err = composeHostAssisted(s, p.rsaKey(), pub, h, key)
	}
	if err != nil {
		return nil, fmt.Errorf("wrap: target %q: %s wrapping: %w", p.Target.label(), res.Strategy, err)
	}
	if err := p.checkBlob(res.Blob); err != nil {
		return nil, err
	}
	return res, nil
}

// plan picks the strategy from the token's capabilities, before anything is wrapped.
func (p *Params) plan(caps hsm.Capabilities, allowHostAssisted bool) (*Result, error) {
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
func composeInToken(s *hsm.Session, pub *hsm.Key, h crypto.Hash, key *hsm.Key) (blob []byte, err error) {
	eph, err := s.GenerateSessionAES(ephemeralBytes * 8)
	if err != nil {
		return nil, err
	}
	defer func() { err = destroyEphemeral(s, eph, err) }()
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

// composeHostAssisted builds the RSA-AES format with OAEP done in Go: the ephemeral key is the
// only secret that touches host memory, and is zeroed before returning.
func composeHostAssisted(s *hsm.Session, rsaPub *rsa.PublicKey, pub *hsm.Key, h crypto.Hash, key *hsm.Key) (blob []byte, err error) {
	raw := make([]byte, ephemeralBytes)
	defer clear(raw)
	if _, err := io.ReadFull(s.Rand(), raw); err != nil {
		return nil, fmt.Errorf("random bytes from the token: %w", err)
	}
	eph, err := s.ImportSessionAES(raw)
	if err != nil {
		return nil, err
	}
	defer func() { err = destroyEphemeral(s, eph, err) }()
	w2, err := s.WrapKWP(eph, key)
	if err != nil {
		return nil, err
	}
	w1, err := rsa.EncryptOAEP(h.New(), rand.Reader, rsaPub, raw, nil)
	if err != nil {
		return nil, err
	}
	return append(w1, w2...), nil
}

// destroyEphemeral destroys the ephemeral key; a failure to do so fails the wrap.
func destroyEphemeral(s *hsm.Session, eph *hsm.Key, err error) error {
	if derr := s.Destroy(eph); derr != nil {
		return errors.Join(err, fmt.Errorf("destroy the ephemeral AES key: %w", derr))
	}
	return err
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
