package hsm

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// tokenURI is an RFC 7512 "pkcs11:" URI reduced to what selects a token.
// Only the attributes present constrain the match.
type tokenURI struct {
	attrs map[string]string // decoded values, keyed by attribute name
}

// uriPathAttrs and uriQueryAttrs are the attributes keyceremony accepts.
// Object attributes (object, id, type) are refused because a URI here
// selects a token, and credentials in a URI (pin-value, pin-source) are
// refused because they would end up in plans, shell history and logs.
var (
	uriPathAttrs  = []string{"token", "manufacturer", "serial", "model", "slot-id"}
	uriQueryAttrs = []string{"module-path"}
)

// parseTokenURI parses s, which must start with "pkcs11:".
func parseTokenURI(s string) (*tokenURI, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		return nil, uriError("it does not start with \"pkcs11:\"")
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &tokenURI{attrs: map[string]string{}}
	if err := u.parseAttrs(path, ";", uriPathAttrs); err != nil {
		return nil, err
	}
	if err := u.parseAttrs(query, "&", uriQueryAttrs); err != nil {
		return nil, err
	}
	if v, ok := u.attrs["slot-id"]; ok {
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return nil, uriError(fmt.Sprintf("slot-id %q is not a decimal number", v))
		}
	}
	return u, nil
}

func (u *tokenURI) parseAttrs(s, sep string, allowed []string) error {
	if s == "" {
		return nil
	}
	for _, kv := range strings.Split(s, sep) {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok {
			return uriError(fmt.Sprintf("attribute %q has no \"=\"", kv))
		}
		switch name {
		case "pin-value", "pin-source":
			return &Error{Kind: ErrTokenNotFound,
				Msg:  fmt.Sprintf("pkcs11 URI: %s is refused: a PIN must not be part of a URI", name),
				Hint: "remove " + name + " from the URI; keyceremony asks for the PIN, or reads it from the variable or file descriptor named on the command line"}
		}
		if !slices.Contains(allowed, name) {
			return uriError(fmt.Sprintf("attribute %q is not supported here (supported: token, manufacturer, serial, model, slot-id, and ?module-path)", name))
		}
		if _, dup := u.attrs[name]; dup {
			return uriError(fmt.Sprintf("attribute %q appears twice", name))
		}
		v, err := url.PathUnescape(raw)
		if err != nil {
			return uriError(fmt.Sprintf("attribute %q has a bad percent-encoding", name))
		}
		u.attrs[name] = v
	}
	return nil
}

func uriError(why string) error {
	return &Error{Kind: ErrTokenNotFound, Msg: "bad pkcs11 URI: " + why,
		Hint: "write it as in RFC 7512, for example pkcs11:token=my%20token;serial=0123456789abcdef"}
}

// matches reports whether the token t, in a module opened from modulePath,
// fits every attribute of u.
func (u *tokenURI) matches(t hsmspec.TokenInfo, modulePath string) bool {
	for name, v := range u.attrs {
		var have string
		switch name {
		case "token":
			have = t.Label
		case "manufacturer":
			have = t.Manufacturer
		case "serial":
			have = t.Serial
		case "model":
			have = t.Model
		case "slot-id":
			have = strconv.FormatUint(uint64(t.SlotID), 10)
			v = strings.TrimLeft(v, "0")
			if v == "" {
				v = "0"
			}
		case "module-path":
			have = modulePath
		}
		if have != v {
			return false
		}
	}
	return true
}

// String gives the URI in a canonical form: path attributes in a fixed
// order, values percent-encoded where RFC 7512 requires it.
func (u *tokenURI) String() string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	n := 0
	for _, name := range uriPathAttrs {
		if v, ok := u.attrs[name]; ok {
			if n > 0 {
				b.WriteByte(';')
			}
			b.WriteString(name + "=" + uriEscape(v))
			n++
		}
	}
	if v, ok := u.attrs["module-path"]; ok {
		b.WriteString("?module-path=" + uriEscape(v))
	}
	return b.String()
}

// uriEscape percent-encodes everything but RFC 3986 unreserved characters
// and the few RFC 7512 allows literally in attribute values; that is
// always a valid encoding, if not always the shortest.
func uriEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~:[]@!$'()*+,", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TokenURI names the token by RFC 7512 attributes that identify it: token
// label, manufacturer, model and serial.
func TokenURI(t hsmspec.TokenInfo) string {
	u := tokenURI{attrs: map[string]string{
		"token": t.Label, "manufacturer": t.Manufacturer, "model": t.Model, "serial": t.Serial,
	}}
	return u.String()
}
