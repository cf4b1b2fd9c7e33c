package backup

import (
	"strconv"
	"testing"

	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

func BenchmarkCreate(b *testing.B) {
	s := untrusted(b)
	ks, _ := hsmspec.ParseKeySpec("AES-256")
	key, err := s.GenerateKey("target", ks)
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Threshold: 3, Custodians: names[:5]}
	for b.Loop() {
		bk, err := Create(s, key, o)
		if err != nil {
			b.Fatal(err)
		}
		bk.Zero()
	}
}

func BenchmarkRestore(b *testing.B) {
	s := untrusted(b)
	ks, _ := hsmspec.ParseKeySpec("AES-256")
	key, err := s.GenerateKey("target", ks)
	if err != nil {
		b.Fatal(err)
	}
	bk, err := Create(s, key, Options{Threshold: 3, Custodians: names[:5]})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		c := NewCollector(&bk.Manifest)
		for _, sh := range bk.Shares[:3] {
			if _, err := c.Add(sh); err != nil {
				b.Fatal(err)
			}
		}
		i++
		if _, err := Restore(s, &bk.Manifest, bk.Blob, c, "copy "+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		c.Zero()
	}
}

func BenchmarkParseTyped(b *testing.B) {
	text := fixedShare().Typed()
	for b.Loop() {
		if _, err := ParseTyped(text); err != nil {
			b.Fatal(err)
		}
	}
}
