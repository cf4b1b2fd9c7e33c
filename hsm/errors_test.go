package hsm_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/keyceremony/keyceremony/hsm"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// wantErr checks the whole error text: these sentences are what an
// operator reads in the middle of a ceremony.
func wantErr(t *testing.T, err error, want string, kind error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("errors.Is(%v) is false", kind)
	}
}

const moduleHint = "\nhint: install softhsm2 (scripts/setup) or give the path of the vendor's PKCS#11 module"

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()

	_, err := hsm.Open("/nonexistent/libpkcs11.so")
	wantErr(t, err, "PKCS#11 module /nonexistent/libpkcs11.so does not exist"+moduleHint, hsm.ErrModule)

	_, err = hsm.Open("/etc/passwd")
	wantErr(t, err, "PKCS#11 module /etc/passwd is not a shared library (not an ELF file)"+moduleHint, hsm.ErrModule)

	_, err = hsm.Open(dir)
	wantErr(t, err, "PKCS#11 module "+dir+" is not a regular file"+moduleHint, hsm.ErrModule)

	// The real module with its ELF machine changed to AArch64 (183).
	lib, err := os.ReadFile(softhsmtest.Module)
	if err != nil {
		t.Fatal(err)
	}
	lib[18], lib[19] = 183, 0
	arm := filepath.Join(dir, "libarm.so")
	if err := os.WriteFile(arm, lib, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = hsm.Open(arm)
	wantErr(t, err, "PKCS#11 module "+arm+" is built for AARCH64, but this program runs on amd64\nhint: install the module built for amd64", hsm.ErrModule)

	// SoftHSM2 cannot initialise without its configuration.
	t.Setenv("SOFTHSM2_CONF", filepath.Join(dir, "missing.conf"))
	_, err = hsm.Open(softhsmtest.Module)
	wantErr(t, err, "PKCS#11 module "+softhsmtest.Module+" failed to initialise (CKR_GENERAL_ERROR)\n"+
		"hint: check the module's configuration; for SoftHSM2, check that SOFTHSM2_CONF names a readable file whose directories.tokendir exists", hsm.ErrModule)
}

func open(t *testing.T, label string) *hsm.Module {
	t.Helper()
	m, err := hsm.Open(softhsmtest.NewToken(t, label))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestTokenSelection(t *testing.T) {
	m := open(t, "ceremony")
	ts, err := m.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Label != "ceremony" || ts[0].Manufacturer != "SoftHSM project" || ts[0].Serial == "" {
		t.Fatalf("Tokens() = %+v", ts)
	}
	serial := ts[0].Serial

	_, err = m.OpenSession("nope")
	wantErr(t, err, `no token labelled "nope"; tokens present: "ceremony" (serial `+serial+`)`+
		"\nhint: give one of the labels above, or a pkcs11: URI (RFC 7512)", hsm.ErrTokenNotFound)

	for _, uri := range []string{
		hsm.TokenURI(ts[0]),
		"pkcs11:serial=" + serial,
		"pkcs11:token=cere%6Dony;slot-id=" + "0" + strconv.FormatUint(uint64(ts[0].SlotID), 10) + "?module-path=" + softhsmtest.Module,
	} {
		s, err := m.OpenSession(uri)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if s.Token() != ts[0] {
			t.Errorf("%s selected %+v", uri, s.Token())
		}
		s.Close()
	}

	_, err = m.OpenSession("pkcs11:token=ceremony;serial=0")
	wantErr(t, err, `no token matches pkcs11:token=ceremony;serial=0; tokens present: "ceremony" (serial `+serial+`)`+
		"\nhint: give one of the labels above, or a pkcs11: URI (RFC 7512)", hsm.ErrTokenNotFound)

	_, err = m.OpenSession("pkcs11:token=ceremony?pin-value=1234")
	wantErr(t, err, "pkcs11 URI: pin-value is refused: a PIN must not be part of a URI"+
		"\nhint: remove pin-value from the URI; keyceremony asks for the PIN, or reads it from the variable or file descriptor named on the command line", nil)
}

func TestNoToken(t *testing.T) {
	m := open(t, "ceremony")
	m2, err := hsm.Open(softhsmtest.Module) // shares the initialised library
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Tokens(); err != nil {
		t.Fatalf("closing a second Module finalised the first: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// An empty token directory: only SoftHSM2's uninitialised slot.
	softhsmtest.NewToken(t, "x")
	os.RemoveAll(filepath.Join(filepath.Dir(os.Getenv("SOFTHSM2_CONF")), "tokens"))
	os.Mkdir(filepath.Join(filepath.Dir(os.Getenv("SOFTHSM2_CONF")), "tokens"), 0o700)
	m, err = hsm.Open(softhsmtest.Module)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.OpenSession("ceremony")
	wantErr(t, err, `no token labelled "ceremony"; the module has no initialised token`+
		"\nhint: initialise a token first (softhsm2-util --init-token, or the vendor's tool); for SoftHSM2, check SOFTHSM2_CONF", hsm.ErrTokenNotFound)
}

func TestLoginErrors(t *testing.T) {
	m := open(t, "ceremony")
	s, err := m.OpenSession("ceremony")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	_, err = s.GenerateKey("k", hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256})
	wantErr(t, err, `generate AES-256 key "k": the user is not logged in (CKR_USER_NOT_LOGGED_IN)`+
		"\nhint: log in with the user PIN first", hsm.ErrNotLoggedIn)

	err = s.Login(hsm.User, []byte("9999"))
	wantErr(t, err, `log in to token "ceremony" as user: the PIN is wrong (CKR_PIN_INCORRECT)`+
		"\nhint: check the PIN and try again; many tokens lock the PIN after a few wrong tries", hsm.ErrPINIncorrect)
	if !errors.Is(err, pkcs11.Error(pkcs11.CKR_PIN_INCORRECT)) {
		t.Error("the error does not match pkcs11.CKR_PIN_INCORRECT")
	}

	err = s.Login(hsm.SecurityOfficer, nil)
	wantErr(t, err, `log in to token "ceremony" as security officer: the PIN is empty`+"\nhint: enter the PIN", hsm.ErrPINIncorrect)

	if err := s.Login(hsm.SecurityOfficer, []byte(softhsmtest.SOPIN)); err != nil {
		t.Fatal(err)
	}
	err = s.Login(hsm.User, []byte(softhsmtest.PIN))
	wantErr(t, err, `log in to token "ceremony" as user: another user type is already logged in to the token (CKR_USER_ANOTHER_ALREADY_LOGGED_IN)`+
		"\nhint: close the other sessions on this token, or log out first", nil)
}

func TestKeyErrors(t *testing.T) {
	s := softhsmtest.Session(t)
	generate(t, s, "target", "EC P-256")

	_, err := s.GenerateKey("target", hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256})
	wantErr(t, err, `a key labelled "target" already exists on token "softhsmtest"`+
		"\nhint: choose another label; keyceremony never replaces a key", hsm.ErrLabelExists)

	_, err = s.FindKey("missing")
	wantErr(t, err, `no key labelled "missing" on token "softhsmtest"`+
		"\nhint: check the label (labels are case-sensitive) and that you are logged in", hsm.ErrKeyNotFound)

	// A key imported from the host is not extractable.
	kek := importKEK(t, s)
	imported := importKEK(t, s)
	_, err = s.WrapKWP(kek, imported)
	wantErr(t, err, "wrap key (session AES-256 key) with AES key wrap (RFC 5649): the key is not extractable (CKA_EXTRACTABLE is false) (CKR_KEY_UNEXTRACTABLE)"+
		"\nhint: a non-extractable key can never leave the token; generate a new key with keyceremony, which marks it extractable", hsm.ErrKeyUnextractable)

	_, err = s.UnwrapKWP(kek, make([]byte, 24), "restored", hsmspec.KeySpec{Type: hsmspec.AES, Bits: 256}, true)
	wantErr(t, err, "the blob (24 bytes) does not fit key spec AES-256"+
		"\nhint: check that the blob and the key spec recorded with it belong together", nil)
}

// A token error reads as an errs.Error for the screen and the command line: the sentence with its
// return code, and the hint, wrapped words kept in front.
func TestErrorParts(t *testing.T) {
	err := fmt.Errorf("open the token: %w", &hsm.Error{Code: pkcs11.CKR_PIN_INCORRECT, Msg: "the PIN is wrong", Hint: "check the PIN", Kind: hsm.ErrPINIncorrect})
	what, hint, changed, ok := errs.Parts(err)
	if !ok || what != "open the token: the PIN is wrong (CKR_PIN_INCORRECT)" || hint != "check the PIN" || changed != "" {
		t.Fatalf("Parts = %q, %q, %q, %v", what, hint, changed, ok)
	}
	if !errors.Is(err, hsm.ErrPINIncorrect) {
		t.Fatal("errors.Is no longer finds the sentinel")
	}
}
