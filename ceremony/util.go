package ceremony

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"

	"github.com/keyceremony/keyceremony/internal/atomicfile"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func writeOnce(path string, data []byte) error { return atomicfile.WriteOnce(path, data, 0o600) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// fingerprintPrefix is what a witness types back: the first 8 hex digits after "SHA256:".
func fingerprintPrefix(fp string) string {
	hex := strings.TrimPrefix(fp, "SHA256:")
	if len(hex) > 8 {
		hex = hex[:8]
	}
	return hex
}

// groupHex splits a fingerprint into groups of 4 for reading aloud.
func groupHex(fp string) string {
	prefix, hex, ok := strings.Cut(fp, ":")
	if !ok {
		hex, prefix = fp, ""
	}
	var b strings.Builder
	if prefix != "" {
		b.WriteString(prefix + ":")
	}
	for i := 0; i < len(hex); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
			if i%32 == 0 {
				b.WriteString("\n       ")
			}
		}
		b.WriteString(hex[i:min(i+4, len(hex))])
	}
	return b.String()
}

// fileSafe turns a custodian name into a file name part.
func fileSafe(name string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToLower(r)
		}
		return '-'
	}, name)
}
