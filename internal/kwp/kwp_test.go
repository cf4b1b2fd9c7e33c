package kwp

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// The vectors are a verbatim subset of Wycheproof's aes_kwp_test.json; tcIds 159 and 160 are
// the two examples of RFC 5649 section 6. See the file's "source" field.
type vectorFile struct {
	Source     string `json:"source"`
	TestGroups []struct {
		KeySize int `json:"keySize"`
		Tests   []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Key     string   `json:"key"`
			Msg     string   `json:"msg"`
			CT      string   `json:"ct"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWycheproof(t *testing.T) {
	raw, err := os.ReadFile("testdata/wycheproof_aes_kwp_subset.json")
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var valid, invalid int
	for _, g := range f.TestGroups {
		for _, tc := range g.Tests {
			key, msg, ct := unhex(t, tc.Key), unhex(t, tc.Msg), unhex(t, tc.CT)
			if len(key)*8 != g.KeySize {
				t.Fatalf("tcId %d: key is %d bits, group says %d", tc.TcID, len(key)*8, g.KeySize)
			}
			got, err := Unwrap(key, ct)
			switch tc.Result {
			case "valid":
				valid++
				if err != nil {
					t.Errorf("tcId %d (%s): Unwrap: %v", tc.TcID, tc.Comment, err)
				} else if !bytes.Equal(got, msg) {
					t.Errorf("tcId %d (%s): Unwrap = %x, want %x", tc.TcID, tc.Comment, got, msg)
				}
				w, err := Wrap(key, msg)
				if err != nil || !bytes.Equal(w, ct) {
					t.Errorf("tcId %d (%s): Wrap = %x, %v; want %x", tc.TcID, tc.Comment, w, err, ct)
				}
			case "invalid":
				invalid++
				if !errors.Is(err, ErrUnwrap) {
					t.Errorf("tcId %d (%s): Unwrap = %x, %v; want ErrUnwrap", tc.TcID, tc.Comment, got, err)
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
			}
		}
	}
	if valid < 15 || invalid < 25 {
		t.Fatalf("only %d valid and %d invalid vectors ran", valid, invalid)
	}
}

func TestRejects(t *testing.T) {
	kek := make([]byte, 32)
	if _, err := Wrap(kek, nil); err == nil {
		t.Error("Wrap of an empty plaintext succeeded")
	}
	if _, err := Wrap(make([]byte, 20), []byte("x")); err == nil {
		t.Error("Wrap under a 20-byte KEK succeeded")
	}
	for _, n := range []int{0, 8, 15, 17, 23} {
		if _, err := Unwrap(kek, make([]byte, n)); !errors.Is(err, ErrUnwrap) {
			t.Errorf("Unwrap of %d bytes: %v, want ErrUnwrap", n, err)
		}
	}
	w, err := Wrap(kek, []byte("sixteen byte key"))
	if err != nil {
		t.Fatal(err)
	}
	w[len(w)-1] ^= 1
	if _, err := Unwrap(kek, w); !errors.Is(err, ErrUnwrap) {
		t.Errorf("Unwrap of a modified blob: %v, want ErrUnwrap", err)
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"), []byte("k"))
	f.Fuzz(func(t *testing.T, kek, msg []byte) {
		w, err := Wrap(kek, msg)
		if err != nil {
			return
		}
		got, err := Unwrap(kek, w)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("round trip: %x, %v", got, err)
		}
	})
}
