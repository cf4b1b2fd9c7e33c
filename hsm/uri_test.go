package hsm

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

func TestParseTokenURI(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  string // a substring of the error; "" for success
	}{
		{in: "pkcs11:", want: map[string]string{}},
		{in: "pkcs11:token=ceremony", want: map[string]string{"token": "ceremony"}},
		{in: "pkcs11:token=My%20Token;serial=0123abc;slot-id=42",
			want: map[string]string{"token": "My Token", "serial": "0123abc", "slot-id": "42"}},
		{in: "pkcs11:manufacturer=SoftHSM%20project;model=SoftHSM%20v2",
			want: map[string]string{"manufacturer": "SoftHSM project", "model": "SoftHSM v2"}},
		{in: "pkcs11:token=a?module-path=/usr/lib/softhsm/libsofthsm2.so",
			want: map[string]string{"token": "a", "module-path": "/usr/lib/softhsm/libsofthsm2.so"}},
		{in: "pkcs11:token=a%3Bb%25c", want: map[string]string{"token": "a;b%c"}},
		{in: "pkcs11:token=", want: map[string]string{"token": ""}},
		{in: "pkcs11:token=a?pin-value=1234", err: "pin-value is refused"},
		{in: "pkcs11:token=a?pin-source=file:/tmp/pin", err: "pin-source is refused"},
		{in: "pkcs11:object=key;token=a", err: `attribute "object" is not supported here`},
		{in: "pkcs11:token=a?module-name=softhsm2", err: `attribute "module-name" is not supported here`},
		{in: "pkcs11:module-path=/x", err: `attribute "module-path" is not supported here`},
		{in: "pkcs11:token=a;token=b", err: `attribute "token" appears twice`},
		{in: "pkcs11:token=a%2", err: "bad percent-encoding"},
		{in: "pkcs11:token=a%zz", err: "bad percent-encoding"},
		{in: "pkcs11:token", err: `attribute "token" has no "="`},
		{in: "pkcs11:slot-id=x1", err: `slot-id "x1" is not a decimal number`},
		{in: "pkcs11:slot-id=-1", err: "is not a decimal number"},
		{in: "token=a", err: `it does not start with "pkcs11:"`},
	} {
		u, err := parseTokenURI(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && !strings.Contains(err.Error(), "\nhint: ") {
				t.Errorf("%q: error has no hint", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !maps.Equal(u.attrs, tc.want) {
			t.Errorf("%q: attrs = %v, want %v", tc.in, u.attrs, tc.want)
		}
	}
}

func TestTokenURIMatches(t *testing.T) {
	tok := hsmspec.TokenInfo{SlotID: 7, Label: "my token", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", Serial: "abc"}
	for uri, want := range map[string]bool{
		"pkcs11:":                             true,
		TokenURI(tok):                         true,
		"pkcs11:token=my%20token":             true,
		"pkcs11:token=my%20token;slot-id=007": true,
		"pkcs11:slot-id=8":                    false,
		"pkcs11:serial=ABC":                   false,
		"pkcs11:?module-path=/m.so":           true,
		"pkcs11:?module-path=/n.so":           false,
	} {
		u, err := parseTokenURI(uri)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.matches(tok, "/m.so"); got != want {
			t.Errorf("%s matches = %t, want %t", uri, got, want)
		}
	}
	if want := "pkcs11:token=my%20token;manufacturer=SoftHSM%20project;serial=abc;model=SoftHSM%20v2"; TokenURI(tok) != want {
		t.Errorf("URI() = %s, want %s", TokenURI(tok), want)
	}
}

// FuzzParseTokenURI checks that the parser never panics, that its errors
// say what to do, and that String gives a URI that parses to the same
// attributes.
func FuzzParseTokenURI(f *testing.F) {
	for _, s := range []string{"pkcs11:token=a;serial=1?module-path=/x", "pkcs11:token=%41%3b", "pkcs11:slot-id=00",
		"pkcs11:token=a?pin-value=1", "pkcs11:;;", "pkcs11:token=a&b;model=x?module-path=a&module-path=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseTokenURI(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Hint == "" || !errors.Is(err, ErrTokenNotFound) {
				t.Fatalf("%q: error without hint: %v", s, err)
			}
			return
		}
		again, err := parseTokenURI(u.String())
		if err != nil {
			t.Fatalf("%q: String() = %q does not parse: %v", s, u.String(), err)
		}
		if !maps.Equal(u.attrs, again.attrs) {
			t.Fatalf("%q: %v, after String() %v", s, u.attrs, again.attrs)
		}
	})
}
