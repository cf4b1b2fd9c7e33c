package hsm

import (
	"errors"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/internal/errs"
)

// Sentinel errors for errors.Is. Every error this package returns for a
// cause the user can fix is an *Error that matches one of these.
var (
	ErrModule               = errors.New("the PKCS#11 module cannot be used")
	ErrTokenNotFound        = errors.New("token not found")
	ErrPINIncorrect         = errors.New("the PIN is wrong")
	ErrPINLocked            = errors.New("the PIN is locked")
	ErrNotLoggedIn          = errors.New("the user is not logged in")
	ErrMechanismUnsupported = errors.New("the token does not support the mechanism or its parameters")
	ErrKeyUnextractable     = errors.New("the key cannot be wrapped out of the token")
	ErrLabelExists          = errors.New("a key with this label already exists")
	ErrKeyNotFound          = errors.New("key not found")
	ErrKeyMismatch          = errors.New("the key does not match the recorded public key")
	ErrReadOnly             = errors.New("the token is read-only")
)

// Error is an error from this package: a sentence saying what went wrong,
// the PKCS#11 return code when the token gave one, and a hint saying what
// the user can do about it. It never carries a secret.
type Error struct {
	Code pkcs11.Error // 0 when the error did not come from the token
	Msg  string       // lowercase sentence
	Hint string       // what to do; may be empty
	Kind error        // one of the Err* sentinels; may be nil
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.what()
	}
	return e.what() + "\nhint: " + e.Hint
}

// what is the sentence with the token's return code, if any.
func (e *Error) what() string {
	if e.Code == 0 {
		return e.Msg
	}
	return e.Msg + " (" + ckrName(e.Code) + ")"
}

// As lets errors.As read the error as an [errs.Error] for a person: the sentence with its
// return code as what happened, and the hint. Whether the token changed is not known here.
func (e *Error) As(target any) bool {
	t, ok := target.(**errs.Error)
	if ok {
		*t = &errs.Error{What: e.what(), Hint: e.Hint, Err: e}
	}
	return ok
}

// Unwrap makes errors.Is match both the sentinel and the raw pkcs11.Error,
// so callers may test for hsm.ErrPINIncorrect or pkcs11.Error(CKR_...).
func (e *Error) Unwrap() []error {
	var causes []error
	if e.Kind != nil {
		causes = append(causes, e.Kind)
	}
	if e.Code != 0 {
		causes = append(causes, e.Code)
	}
	return causes
}

// ckrName gives "CKR_PIN_INCORRECT" for a code, or its hex value when
// miekg/pkcs11 does not know it (vendor-defined codes).
func ckrName(c pkcs11.Error) string {
	s := c.Error() // "pkcs11: 0xA0: CKR_PIN_INCORRECT"
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "CKR_") {
		return s[i+2:]
	}
	return strings.TrimPrefix(s, "pkcs11: ")
}

// codeOf returns the PKCS#11 return code inside err, or 0.
func codeOf(err error) pkcs11.Error {
	var c pkcs11.Error
	if errors.As(err, &c) {
		return c
	}
	return 0
}

// reason is what a return code means to someone running a ceremony.
type reason struct {
	kind error
	why  string
	hint string
}

// reasons covers the return codes a user can cause. Codes not listed here
// are reported with their name only: they point at a bug or a broken token.
var reasons = map[pkcs11.Error]reason{
	pkcs11.CKR_PIN_INCORRECT: {ErrPINIncorrect, "the PIN is wrong",
		"check the PIN and try again; many tokens lock the PIN after a few wrong tries"},
	pkcs11.CKR_PIN_LOCKED: {ErrPINLocked, "the PIN is locked",
		"the security officer must reset the user PIN"},
	pkcs11.CKR_PIN_LEN_RANGE: {ErrPINIncorrect, "the PIN has the wrong length",
		"check the PIN; the token's minimum and maximum lengths are in its documentation"},
	pkcs11.CKR_PIN_EXPIRED: {ErrPINLocked, "the PIN has expired",
		"set a new PIN with the token vendor's tool"},
	pkcs11.CKR_USER_PIN_NOT_INITIALIZED: {ErrNotLoggedIn, "the token's user PIN is not initialised",
		"initialise the token and its user PIN (softhsm2-util --init-token, or the vendor's tool)"},
	pkcs11.CKR_USER_NOT_LOGGED_IN: {ErrNotLoggedIn, "the user is not logged in",
		"log in with the user PIN first"},
	pkcs11.CKR_USER_ANOTHER_ALREADY_LOGGED_IN: {nil, "another user type is already logged in to the token",
		"close the other sessions on this token, or log out first"},
	pkcs11.CKR_SESSION_READ_ONLY_EXISTS: {nil, "a read-only session is open on the token",
		"close the other programs using the token before logging in as security officer"},
	pkcs11.CKR_SESSION_READ_ONLY: {ErrReadOnly, "the session is read-only",
		"the token is write-protected; use a writable token"},
	pkcs11.CKR_TOKEN_WRITE_PROTECTED: {ErrReadOnly, "the token is write-protected",
		"use a writable token"},
	pkcs11.CKR_KEY_UNEXTRACTABLE: {ErrKeyUnextractable, "the key is not extractable (CKA_EXTRACTABLE is false)",
		"a non-extractable key can never leave the token; generate a new key with keyceremony, which marks it extractable"},
	pkcs11.CKR_KEY_NOT_WRAPPABLE: {ErrKeyUnextractable, "the token refuses to wrap this key under this wrapping key",
		"a key made with CKA_WRAP_WITH_TRUSTED leaves only under a wrapping key the security officer marked CKA_TRUSTED; some key types cannot be wrapped at all (SoftHSM2 2.6: Ed25519)"},
	pkcs11.CKR_ATTRIBUTE_READ_ONLY: {nil, "the template sets an attribute this user may not set, or one that cannot change",
		"only the security officer may set CKA_TRUSTED; CKA_WRAP_WITH_TRUSTED, CKA_SENSITIVE and CKA_EXTRACTABLE never go back, and a key with CKA_MODIFIABLE false does not change"},
	pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED: {nil, "the key's usage attributes do not allow this operation",
		"use a key created for this purpose (for example with CKA_WRAP for a wrapping key)"},
	pkcs11.CKR_KEY_SIZE_RANGE: {ErrMechanismUnsupported, "the key size is outside what the token accepts for this operation",
		"choose another key size or wrapping method"},
	pkcs11.CKR_KEY_TYPE_INCONSISTENT: {nil, "the key type does not fit the mechanism",
		"check that the wrapping key is of the type the method needs"},
	pkcs11.CKR_MECHANISM_INVALID: {ErrMechanismUnsupported, "the token does not support the mechanism",
		"choose a method the token supports; keyceremony's capability probe lists them"},
	pkcs11.CKR_MECHANISM_PARAM_INVALID: {ErrMechanismUnsupported, "the token refused the mechanism's parameters",
		"choose a method the token supports; keyceremony's capability probe lists them"},
	pkcs11.CKR_KEY_HANDLE_INVALID: {ErrKeyNotFound, "the key no longer exists",
		"session keys disappear when the session closes or the user logs out; start the step again"},
	pkcs11.CKR_OBJECT_HANDLE_INVALID: {ErrKeyNotFound, "the key no longer exists",
		"session keys disappear when the session closes or the user logs out; start the step again"},
	pkcs11.CKR_DEVICE_REMOVED: {nil, "the token was removed",
		"reconnect the token and start the step again"},
	pkcs11.CKR_TOKEN_NOT_PRESENT: {ErrTokenNotFound, "the token is not present",
		"insert the token and start the step again"},
	pkcs11.CKR_SESSION_HANDLE_INVALID: {nil, "the session was closed",
		"open a new session and start the step again"},
	pkcs11.CKR_SESSION_CLOSED: {nil, "the session was closed",
		"open a new session and start the step again"},
	pkcs11.CKR_DEVICE_MEMORY: {nil, "the token is out of memory",
		"delete keys that are no longer needed, or use another token"},
	pkcs11.CKR_WRAPPED_KEY_INVALID: {nil, "the token cannot unwrap the blob: it is damaged or was made under another key",
		"check that the blob and the unwrapping key belong together"},
	pkcs11.CKR_WRAPPED_KEY_LEN_RANGE: {nil, "the blob has the wrong length",
		"check that the blob is complete"},
}

// fail turns err from a PKCS#11 call into an *Error whose sentence starts
// with what was being done ("generate key \"x\""), followed by the reason.
func fail(err error, doing string) error {
	code := codeOf(err)
	if code == 0 {
		return &Error{Msg: doing + ": " + err.Error()}
	}
	r, ok := reasons[code]
	if !ok {
		return &Error{Code: code, Msg: doing + " failed"}
	}
	return &Error{Code: code, Kind: r.kind, Msg: doing + ": " + r.why, Hint: r.hint}
}
