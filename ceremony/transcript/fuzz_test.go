package transcript

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// The parsers of what an auditor receives: a transcript line, a facts object, transcript.pub,
// and the checkpoint. Seeds are in testdata/fuzz (taken from the frozen v1 folder) and below.

// FuzzParseLine: a line the parser accepts is exactly the line the encoder writes for the event
// it read, and its signed message is that event's message.
func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"seq":0,"time":"2026-11-29T13:49:41Z","step":"a","kind":"begin","actor":{"role":"r","name":"n"},"facts":{},"files":[],"prev":"","sig":"AA=="}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, msg, err := parseLine(line)
		if err != nil {
			return
		}
		again, err := e.encode(true)
		if err != nil || !bytes.Equal(again, line) {
			t.Fatalf("parsed %q, encoded again as %q (%v)", line, again, err)
		}
		if m, err := e.message(); err != nil || !bytes.Equal(m, msg) {
			t.Fatalf("message %q, want %q (%v)", msg, m, err)
		}
	})
}

// FuzzCanonicalJSON: what canonicalJSON accepts is JSON, and its output is canonical (a fixed
// point) and JSON too.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,-0.5e+3,true,null],"b":{"c":"\u003c\b\u00e9"}}`, `"\ud83d\ude00"`, ` [ 1 , 2 ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := canonicalJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(data) || !json.Valid(out) {
			t.Fatalf("accepted %q as %q, which encoding/json does not take for JSON", data, out)
		}
		again, err := canonicalJSON(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%q is not a fixed point: %q (%v)", out, again, err)
		}
	})
}

// FuzzParseKeyPEM: transcript.pub is accepted only in the exact form the writer produces.
func FuzzParseKeyPEM(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseKeyPEM(data)
		if err == nil && !bytes.Equal(k.pem(), data) {
			t.Fatalf("accepted %q, which is not the canonical %q", data, k.pem())
		}
	})
}

// FuzzCheckpoint: any checkpoint of a real chain is either accepted with exactly one signature
// line by the ceremony key, or refused with a problem.
func FuzzCheckpoint(f *testing.F) {
	c := readChain(os.DirFS(frozenV1))
	if c.problem != "" {
		f.Fatal(c.problem)
	}
	cp, err := os.ReadFile(filepath.Join(frozenV1, CheckpointFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cp)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, problem := checkSeal(fstest.MapFS{CheckpointFile: {Data: data}}, c)
		if problem != "" {
			return
		}
		if n := strings.Count("\n"+string(data), "\n\u2014 keyceremony/test "); n != 1 {
			t.Fatalf("accepted a checkpoint with %d lines named by the ceremony key:\n%s", n, data)
		}
	})
}
