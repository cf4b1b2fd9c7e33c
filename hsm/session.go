package hsm

import (
	"encoding/binary"
	"fmt"
	"io"
	"unsafe"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// Session is a read-write PKCS#11 session on one token.
type Session struct {
	m     *Module
	ctx   *pkcs11.Ctx
	h     pkcs11.SessionHandle
	token hsmspec.TokenInfo
	caps  *hsmspec.Capabilities // probed on first use
	// waived are the restrictions (CKA_WRAP_WITH_TRUSTED, CKA_COPYABLE,
	// CKA_MODIFIABLE) target keys are made without, because the plan says
	// the token refuses them.
	waived map[uint]bool
	pkcs8  map[hsmspec.KeySpec]hsmspec.PKCS8Fit // ProbePKCS8 results
}

// UserType is the PKCS#11 user a session logs in as.
type UserType int

const (
	User            UserType = iota // CKU_USER: works with keys
	SecurityOfficer                 // CKU_SO: administers the token
)

func (u UserType) String() string {
	if u == SecurityOfficer {
		return "security officer"
	}
	return "user"
}

// Token describes the token the session is on.
func (s *Session) Token() hsmspec.TokenInfo { return s.token }

// Login logs in as u. The caller owns pin and should clear it afterwards.
//
// miekg/pkcs11 takes the PIN as a string, and a string made with
// string(pin) would be a copy on the Go heap that can never be zeroed.
// unsafe.String instead aliases the caller's bytes for the length of the
// call (miekg/pkcs11 copies them into C memory and does not keep the
// string), so clearing pin afterwards wipes the only Go copy.
//
// Logging in again as the user type already logged in succeeds: the login
// state belongs to the application, not the session, in PKCS#11.
func (s *Session) Login(u UserType, pin []byte) error {
	doing := fmt.Sprintf("log in to token %q as %s", s.token.Label, u)
	if len(pin) == 0 {
		return &Error{Kind: ErrPINIncorrect, Msg: doing + ": the PIN is empty", Hint: "enter the PIN"}
	}
	ut := uint(pkcs11.CKU_USER)
	if u == SecurityOfficer {
		ut = pkcs11.CKU_SO
	}
	err := s.ctx.Login(s.h, ut, unsafe.String(&pin[0], len(pin)))
	if codeOf(err) == pkcs11.CKR_USER_ALREADY_LOGGED_IN {
		return nil
	}
	if err != nil {
		return fail(err, doing)
	}
	return nil
}

// Logout ends the login of the application: in PKCS#11 the login state
// belongs to the application, so a security officer step and a user step
// are two logins in sequence. Private session objects become unusable;
// public ones (those the security officer made) stay until the session
// closes.
func (s *Session) Logout() error {
	if err := s.ctx.Logout(s.h); err != nil && codeOf(err) != pkcs11.CKR_USER_NOT_LOGGED_IN {
		return fail(err, fmt.Sprintf("log out of token %q", s.token.Label))
	}
	return nil
}

// Waive makes target keys without the named restrictions from now on
// (PKCS#11 names: CKA_WRAP_WITH_TRUSTED, CKA_COPYABLE, CKA_MODIFIABLE),
// for a token that refuses them and a plan that accepts it. Without
// CKA_WRAP_WITH_TRUSTED, a user PIN holder can wrap the key out under a key
// of their own: only the ceremony's procedures then keep it in.
func (s *Session) Waive(names ...string) error {
	for _, n := range names {
		a, ok := restrictionNames[n]
		if !ok {
			return &Error{Msg: fmt.Sprintf("%s is not a restriction that can be waived", n),
				Hint: "waive CKA_WRAP_WITH_TRUSTED, CKA_COPYABLE or CKA_MODIFIABLE"}
		}
		if s.waived == nil {
			s.waived = map[uint]bool{}
		}
		s.waived[a] = true
	}
	return nil
}

// Close closes the session. Session objects (imported wrapping keys,
// ephemeral AES keys) disappear with it.
func (s *Session) Close() error {
	if s.h == 0 {
		return nil
	}
	err := s.ctx.CloseSession(s.h)
	s.h = 0
	if err != nil {
		return fail(err, fmt.Sprintf("close the session on token %q", s.token.Label))
	}
	return nil
}

// Rand returns a reader of random bytes from the token's generator
// (C_GenerateRandom).
func (s *Session) Rand() io.Reader { return tokenRand{s} }

type tokenRand struct{ s *Session }

// maxRandChunk bounds one C_GenerateRandom call; some tokens refuse large
// requests.
const maxRandChunk = 256

func (r tokenRand) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := min(len(p)-n, maxRandChunk)
		b, err := r.s.ctx.GenerateRandom(r.s.h, k)
		if err != nil {
			return n, fail(err, "read random bytes from the token")
		}
		n += copy(p[n:], b)
		clear(b)
	}
	return n, nil
}

func (s *Session) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.Rand(), b); err != nil {
		return nil, err
	}
	return b, nil
}

// Destroy deletes the key's objects (the secret or private key and the
// public key, whichever exist) from the token.
func (s *Session) Destroy(k *Key) error {
	for _, h := range []pkcs11.ObjectHandle{k.Handle, k.PublicHandle} {
		if h == 0 {
			continue
		}
		if err := s.ctx.DestroyObject(s.h, h); err != nil {
			return fail(err, "destroy key "+k.name())
		}
	}
	return nil
}

// DestroyLabelled deletes every object labelled label, whatever its class (an interrupted key
// generation may leave half a pair, or an object with no class), and returns how many it
// deleted. Callers use it only for objects they know nothing depends on.
func (s *Session) DestroyLabelled(label string) (int, error) {
	hs, err := s.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)})
	if err != nil {
		return 0, fail(err, fmt.Sprintf("look for label %q", label))
	}
	for i, h := range hs {
		if err := s.ctx.DestroyObject(s.h, h); err != nil {
			return i, fail(err, fmt.Sprintf("destroy an object labelled %q", label))
		}
	}
	return len(hs), nil
}

// Unnamed counts the objects a process killed inside C_GenerateKey can leave in SoftHSM2, which
// nothing finds by label: objects whose class cannot be read, and secret or private keys with
// neither label nor CKA_ID that are token objects or private. (Measured: 40 kills of a generation
// loop left 5, one class-less data object and four keys with CKA_TOKEN not yet set but
// CKA_PRIVATE at its default, true.) Public session keys without them are a session's own
// scratch keys, such as the capability probe's, and are not counted.
func (s *Session) Unnamed() (int, error) {
	hs, err := s.findObjects(nil)
	if err != nil {
		return 0, fail(err, "list the token's objects")
	}
	n := 0
	for _, h := range hs {
		a, err := s.attrs(h, pkcs11.CKA_CLASS, pkcs11.CKA_LABEL, pkcs11.CKA_ID, pkcs11.CKA_TOKEN, pkcs11.CKA_PRIVATE)
		if err != nil || len(a[pkcs11.CKA_CLASS]) == 0 {
			n++
			continue
		}
		class := ulong(a[pkcs11.CKA_CLASS])
		key := class == pkcs11.CKO_SECRET_KEY || class == pkcs11.CKO_PRIVATE_KEY
		kept := boolean(a[pkcs11.CKA_TOKEN]) || boolean(a[pkcs11.CKA_PRIVATE])
		if key && kept && len(a[pkcs11.CKA_LABEL]) == 0 && len(a[pkcs11.CKA_ID]) == 0 {
			n++
		}
	}
	return n, nil
}

// CountID counts the objects whose CKA_ID is id.
func (s *Session) CountID(id []byte) (int, error) {
	hs, err := s.findObjects([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, id)})
	if err != nil {
		return 0, fail(err, fmt.Sprintf("look for CKA_ID %x", id))
	}
	return len(hs), nil
}

// findObjects returns every object matching the template.
func (s *Session) findObjects(tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := s.ctx.FindObjectsInit(s.h, tmpl); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := s.ctx.FindObjects(s.h, 64)
		if err != nil {
			s.ctx.FindObjectsFinal(s.h)
			return nil, err
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	return all, s.ctx.FindObjectsFinal(s.h)
}

// attrs reads the given attributes of an object into a map.
func (s *Session) attrs(h pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := s.ctx.GetAttributeValue(s.h, h, tmpl)
	if err != nil {
		return nil, err
	}
	m := make(map[uint][]byte, len(got))
	for _, a := range got {
		m[a.Type] = a.Value
	}
	return m, nil
}

// attr reads one attribute.
func (s *Session) attr(h pkcs11.ObjectHandle, t uint) ([]byte, error) {
	m, err := s.attrs(h, t)
	return m[t], err
}

// ulong decodes a CK_ULONG attribute value, which has the host's size and
// byte order.
func ulong(b []byte) uint64 {
	switch len(b) {
	case 8:
		return binary.NativeEndian.Uint64(b)
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	}
	return 0
}

// boolean decodes a CK_BBOOL attribute value.
func boolean(b []byte) bool { return len(b) == 1 && b[0] != 0 }
