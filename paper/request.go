package paper

// WrappingKey is one cloud wrapping key on the printed import request.
type WrappingKey struct {
	File        string // the import parameters or public key file it was read from
	What        string // what the file is, e.g. "AWS KMS import parameters"
	Fingerprint string // SHA256:<hex> of the SubjectPublicKeyInfo
	ReadBack    string // its read-back form, which the witness types back during the ceremony
}

// ImportRequest is the sheet carried from the connected side into the ceremony room: someone
// reads each read-back form aloud from it while the witness types it back.
func ImportRequest(keys []WrappingKey) ([]byte, error) {
	d := newDoc("Printed import request")
	d.heading("Printed import request")
	d.text("The wrapping keys of the clouds' import parameters, as read on the connected side. During the ceremony someone reads each read-back form aloud from this sheet and the witness types it back; a slip is named by its group.")
	for _, k := range keys {
		d.room(110)
		d.subheading(k.File)
		d.pair("File", k.What)
		d.pair("Fingerprint", k.Fingerprint)
		d.y += 4
		d.lines(fontText, 10, margin, textW, "Read back:")
		d.mono(14, k.ReadBack)
		d.y += 8
	}
	d.y += 10
	d.field("Read on the connected side by (name, date)", 0)
	d.field("Signature", 0)
	return d.bytes()
}
