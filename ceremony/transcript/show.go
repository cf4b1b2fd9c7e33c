package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// showWidth is the width of the text Show writes.
const showWidth = 80

// Show writes events for a person to read, in plain text no wider than 80 columns: per event
// a heading with its seq, time, kind and step, then "by" and the actor, the facts (one
// "key: value" line each, nested keys joined with dots), and "file" lines with the SHA-256 of
// each file. Show does not verify; see [Verify].
//
//	#3  2026-11-27 10:04:05 UTC  step  backup
//	  by Carol (custodian)
//	  m: 2
//	  file backup/backup.bin
//	    sha256 4f6758f1e0d8c6c79c4941c9d7ca2b2985bf65de06d5b6a0172465f4556bbe60
func Show(w io.Writer, events []Event) error {
	var b strings.Builder
	if Headless(events) {
		b.WriteString(HeadlessNote + "\n\n")
	}
	for i, e := range events {
		if i > 0 {
			b.WriteString("\n")
		}
		kind := string(e.Kind)
		if e.Kind == KindException {
			kind = "EXCEPTION"
		}
		writeWrapped(&b, "", fmt.Sprintf("#%d  %s  %s  %s", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05 UTC"), kind, e.Step))
		if e.Actor != (Actor{}) {
			writeWrapped(&b, "  ", strings.TrimSpace("by "+e.Actor.Name+" ("+e.Actor.Role+")"))
		}
		for _, line := range flattenFacts(e.Facts) {
			writeWrapped(&b, "  ", line)
		}
		for _, f := range e.Files {
			writeWrapped(&b, "  ", "file "+f.Path)
			writeWrapped(&b, "    ", "sha256 "+f.SHA256)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeWrapped writes prefix and text, wrapping text at spaces (or anywhere, for long words
// such as base64) so no line is wider than showWidth; continuation lines are indented under
// the text by two more spaces.
func writeWrapped(b *strings.Builder, prefix, text string) {
	width := showWidth - len(prefix)
	indent := strings.Repeat(" ", len(prefix)+2)
	for first := true; ; first = false {
		if !first {
			prefix, width = indent, showWidth-len(indent)
		}
		if len(text) <= width {
			b.WriteString(prefix + text + "\n")
			return
		}
		cut := strings.LastIndexByte(text[:width+1], ' ')
		if cut <= 0 {
			cut = width
		}
		b.WriteString(prefix + strings.TrimRight(text[:cut], " ") + "\n")
		text = strings.TrimLeft(text[cut:], " ")
	}
}

// flattenFacts renders a JSON object as "key: value" lines in its own order, nested keys
// joined with dots and array elements numbered.
func flattenFacts(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out []string
	if err := flatten(dec, "", &out); err != nil {
		return []string{string(raw)}
	}
	return out
}

func flatten(dec *json.Decoder, key string, out *[]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	name := func(k string) string {
		if key == "" {
			return k
		}
		return key + "." + k
	}
	switch t := tok.(type) {
	case json.Delim:
		n := 0
		for ; dec.More(); n++ {
			child := strconv.Itoa(n)
			if t == '{' {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				child = k.(string)
			}
			if err := flatten(dec, name(child), out); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return err
		}
		if n == 0 && key != "" {
			empty := "{}"
			if t == '[' {
				empty = "[]"
			}
			*out = append(*out, key+": "+empty)
		}
	case string:
		*out = append(*out, key+": "+t)
	case nil:
		*out = append(*out, key+": null")
	default:
		*out = append(*out, fmt.Sprintf("%s: %v", key, t))
	}
	return nil
}
