package backup

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/internal/spki"
)

func TestManifestRoundTrip(t *testing.T) {
	_, man, _ := fakeSet(t, newRand(t), 2, 3)
	data := mustMarshal(t, man)
	got, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(mustMarshal(t, got)) != string(data) {
		t.Fatal("manifest changed in a round trip")
	}
	for _, field := range []string{`"format": "keyceremony-backup/1"`, `"set_id"`, `"m": 2`, `"n": 3`, `"custodians"`,
		`"backup_key_kcv"`, `"commitments"`, `"blob_sha256"`, `"replaces": ""`, `"created": "2026-11-27T10:00:00Z"`} {
		if !strings.Contains(string(data), field) {
			t.Errorf("manifest lacks %s:\n%s", field, data)
		}
	}

	// A key pair carries its public key (base64 SPKI) and fingerprint, no KCV.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pair := *man
	pair.Key = ManifestKey{Label: "signer", Spec: "EC P-256", Fingerprint: spki.Fingerprint(der), PublicKey: der}
	got, err = ParseManifest(mustMarshal(t, &pair))
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Key.PublicKey) != string(der) {
		t.Fatal("public key changed")
	}
}

func TestManifestStrict(t *testing.T) {
	_, man, _ := fakeSet(t, newRand(t), 2, 3)
	good := string(mustMarshal(t, man))
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("no %q in manifest", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct{ in, want string }{
		{edit(`"m": 2`, `"m": 2, "extra": 1`), `not a valid backup manifest: json: unknown field "extra"`},
		{good + "{}", "not a valid backup manifest: data after the JSON object"},
		{edit(`keyceremony-backup/1`, `keyceremony-backup/2`), "manifest has format \"keyceremony-backup/2\", want \"keyceremony-backup/1\"\nhint: use the keyceremony version that wrote it"},
		{edit(`"m": 2`, `"m": 4`), "manifest says 4 of 3 shares are needed, which no share set has"},
		{edit(`"n": 3`, `"n": 4`), "manifest names 3 custodians for 4 shares"},
		{edit(`"set_id": "`+man.SetID, `"set_id": "`+strings.ToLower(man.SetID)), "manifest set ID \"" + strings.ToLower(man.SetID) + "\" is not 8 Crockford base32 characters"},
		{edit(`"replaces": ""`, `"replaces": "`+man.SetID+`"`), "manifest set " + man.SetID + " replaces itself"},
		{edit(`"spec": "AES-256"`, `"spec": "EC P-256"`), "manifest key \"target\" (EC P-256) needs its public key and that key's fingerprint, and no KCV"},
		{edit(`"kcv": "a1b2c3"`, `"kcv": "A1B2C3"`), "manifest key \"target\" (AES-256) needs a 6-hex-digit KCV and no public key"},
		{edit(man.Commitments[1], "00"), "manifest commitment of share 2 is not 64 hex digits"},
		{edit(`"Bob"`, `"alice"`), "custodians 1 and 2 are both called \"alice\"\nhint: give every custodian a distinct name"},
	}
	for _, c := range cases {
		_, err := ParseManifest([]byte(c.in))
		wantErr(t, err, c.want)
	}
}
