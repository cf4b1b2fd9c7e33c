package wrap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The parsers below read what each cloud's CLI prints. They return plain errors; Load adds the
// target and the file name.

// AWS import tokens are opaque; the ones seen are 256 (local-kms) to about 1,600 bytes.
const (
	minImportToken = 256
	maxImportToken = 2048
)

// checkText says in words why a file that should be UTF-8 text is not: a byte order mark, or
// UTF-16 as PowerShell's > writes it. Go's parsers would say "invalid character 'ï'".
func checkText(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}):
		return errors.New("it starts with a UTF-8 BOM; save it without one (PowerShell: Out-File -Encoding utf8NoBOM)")
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}),
		len(b) >= 4 && (b[1] == 0 && b[3] == 0 || b[0] == 0 && b[2] == 0):
		return errors.New("it is UTF-16 text; save it as UTF-8 (PowerShell: Out-File -Encoding utf8NoBOM, or redirect from cmd.exe)")
	}
	return nil
}

// decodeJSON decodes a cloud CLI's JSON output into v, naming what the file is instead when it is
// not JSON: a BOM, UTF-16, or YAML (the CLIs' other output format).
func decodeJSON(b []byte, v any) error {
	if err := checkText(b); err != nil {
		return err
	}
	err := json.Unmarshal(b, v)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' && t[0] != '[' && yamlKey.Match(t) {
			return errors.New("this is YAML, give JSON (--output json, --format=json or -format=json)")
		}
		line := 1 + bytes.Count(b[:min(int(syntax.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("not JSON: line %d: %v", line, err)
	}
	return err
}

// yamlKey matches a first line "key:" or "key: value", as YAML output starts.
var yamlKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*:( |\r?\n|$)`)

// decodeImportToken checks an AWS import token as raw bytes: base64 text given undecoded is
// refused with the command that decodes it.
func decodeImportToken(b []byte) ([]byte, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 {
		if d, err := base64.StdEncoding.DecodeString(string(t)); err == nil && len(d) >= minImportToken {
			return nil, errors.New("it is base64 text, not the token's bytes; decode it with base64 -d")
		}
	}
	if n := len(b); n < minImportToken || n > maxImportToken {
		return nil, fmt.Errorf("it holds %d bytes; an AWS import token has %d to %d", n, minImportToken, maxImportToken)
	}
	return b, nil
}

// awsParams is the JSON of aws kms get-parameters-for-import --output json.
type awsParams struct {
	keyID        string
	importToken  []byte
	publicKeyDER []byte
	pub          any
	validTo      time.Time
}

func parseAWSParams(b []byte) (awsParams, error) {
	var j struct {
		KeyID             string          `json:"KeyId"`
		ImportToken       string          `json:"ImportToken"`
		PublicKey         string          `json:"PublicKey"`
		ParametersValidTo json.RawMessage `json:"ParametersValidTo"`
	}
	if err := decodeJSON(b, &j); err != nil {
		return awsParams{}, err
	}
	var a awsParams
	var missing []string
	for _, f := range []struct {
		name  string
		empty bool
	}{{"KeyId", j.KeyID == ""}, {"ImportToken", j.ImportToken == ""}, {"PublicKey", j.PublicKey == ""}, {"ParametersValidTo", len(j.ParametersValidTo) == 0}} {
		if f.empty {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return a, fmt.Errorf("%s missing", strings.Join(missing, ", "))
	}
	a.keyID = j.KeyID
	var err error
	tok, err := base64.StdEncoding.DecodeString(j.ImportToken)
	if err != nil {
		return a, errors.New("ImportToken is not base64")
	}
	if n := len(tok); n < minImportToken || n > maxImportToken {
		return a, fmt.Errorf("ImportToken holds %d bytes; an AWS import token has %d to %d", n, minImportToken, maxImportToken)
	}
	a.importToken = tok
	der, err := base64.StdEncoding.DecodeString(j.PublicKey)
	if err != nil {
		return a, errors.New("PublicKey is not base64")
	}
	if a.pub, a.publicKeyDER, err = parsePublicKey(der); err != nil {
		return a, fmt.Errorf("PublicKey: %v", err)
	}
	if a.validTo, err = parseAWSTime(j.ParametersValidTo); err != nil {
		return a, fmt.Errorf("ParametersValidTo: %v", err)
	}
	return a, nil
}

// parseAWSTime reads a timestamp as the AWS CLI prints it: epoch seconds (CLI v1, or
// cli_timestamp_format = none) or ISO 8601 (CLI v2's default).
func parseAWSTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an ISO 8601 time", s)
		}
		return t.UTC(), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return time.Time{}, errors.New("neither a time nor epoch seconds")
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f <= 0 || f > 1e11 || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("%s is not epoch seconds", n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*1e6).UTC(), nil
}

// gcpJob is the JSON of gcloud kms import-jobs describe --format=json.
type gcpJob struct {
	name, project, location, keyRing, jobID string
	importMethod, protectionLevel, state    string
	expireTime                              time.Time
	publicKeyDER                            []byte
	pub                                     any
	raw                                     []byte // the JSON, for the attestation check
}

func parseGCPJob(b []byte) (gcpJob, error) {
	var j struct {
		Name            string `json:"name"`
		ImportMethod    string `json:"importMethod"`
		ProtectionLevel string `json:"protectionLevel"`
		State           string `json:"state"`
		ExpireTime      string `json:"expireTime"`
		PublicKey       struct {
			PEM string `json:"pem"`
		} `json:"publicKey"`
	}
	if err := decodeJSON(b, &j); err != nil {
		return gcpJob{}, err
	}
	g := gcpJob{name: j.Name, importMethod: j.ImportMethod, protectionLevel: j.ProtectionLevel, state: j.State, raw: b}
	m := gcpJobName.FindStringSubmatch(j.Name)
	if m == nil {
		return g, fmt.Errorf("name %q is not an import job (projects/P/locations/L/keyRings/R/importJobs/J)", j.Name)
	}
	g.project, g.location, g.keyRing, g.jobID = m[1], m[2], m[3], m[4]
	if j.ImportMethod == "" || j.State == "" {
		return g, errors.New("importMethod or state missing")
	}
	if j.ExpireTime != "" {
		t, err := time.Parse(time.RFC3339Nano, j.ExpireTime)
		if err != nil {
			return g, fmt.Errorf("expireTime %q is not an RFC 3339 time", j.ExpireTime)
		}
		g.expireTime = t.UTC()
	}
	// A job still in PENDING_GENERATION has no public key yet; Validate reports its state.
	if j.PublicKey.PEM == "" {
		if j.State == "ACTIVE" {
			return g, errors.New("publicKey.pem missing")
		}
		return g, nil
	}
	var err error
	if g.pub, g.publicKeyDER, err = parsePublicKey([]byte(j.PublicKey.PEM)); err != nil {
		return g, fmt.Errorf("publicKey.pem: %v", err)
	}
	return g, nil
}

// parseVaultWrappingKey reads vault read -format=json transit/wrapping_key (or the API's
// response, which has the same data.public_key).
func parseVaultWrappingKey(b []byte) (any, []byte, error) {
	var j struct {
		Data struct {
			PublicKey string `json:"public_key"`
		} `json:"data"`
	}
	if err := decodeJSON(b, &j); err != nil {
		return nil, nil, err
	}
	if j.Data.PublicKey == "" {
		return nil, nil, errors.New("data.public_key missing")
	}
	pub, der, err := parsePublicKey([]byte(j.Data.PublicKey))
	if err != nil {
		return nil, nil, fmt.Errorf("data.public_key: %v", err)
	}
	return pub, der, nil
}

// parseOCIWrappingKey reads oci kms management wrapping-key get (data."public-key",
// data."lifecycle-state"), or the bare PEM of the wrapping key; state is empty for a PEM.
func parseOCIWrappingKey(b []byte) (pub any, der []byte, state string, err error) {
	if err := checkText(b); err != nil {
		return nil, nil, "", err
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] != '{' && !yamlKey.Match(t) {
		pub, der, err = parsePublicKey(b)
		return pub, der, "", err
	}
	var j struct {
		Data struct {
			PublicKey      string `json:"public-key"`
			LifecycleState string `json:"lifecycle-state"`
		} `json:"data"`
	}
	if err := decodeJSON(b, &j); err != nil {
		return nil, nil, "", err
	}
	if j.Data.PublicKey == "" {
		return nil, nil, "", errors.New(`data."public-key" missing`)
	}
	if pub, der, err = parsePublicKey([]byte(j.Data.PublicKey)); err != nil {
		return nil, nil, "", fmt.Errorf(`data."public-key": %v`, err)
	}
	return pub, der, j.Data.LifecycleState, nil
}

// WrappingKey reads the wrapping public key from any file a target's params or public_key may
// name, whatever the cloud: the JSON of aws kms get-parameters-for-import, gcloud kms
// import-jobs describe, vault read transit/wrapping_key or oci kms management wrapping-key get,
// or a public key (PEM, DER or base64 of DER). It returns the SubjectPublicKeyInfo DER and what
// the file was, for the connected side to print the fingerprint a witness checks.
func WrappingKey(b []byte) (der []byte, what string, err error) {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		if _, der, err = parsePublicKey(b); err != nil {
			return nil, "", fmt.Errorf("neither import parameters (JSON) nor a public key: %v", err)
		}
		return der, "public key", nil
	}
	var probe struct {
		PublicKey string          `json:"PublicKey"`
		GCP       json.RawMessage `json:"publicKey"`
		Data      map[string]any  `json:"data"`
	}
	if err := decodeJSON(b, &probe); err != nil {
		return nil, "", err
	}
	switch {
	case probe.PublicKey != "":
		a, err := parseAWSParams(b)
		return a.publicKeyDER, "AWS KMS import parameters", err
	case probe.GCP != nil:
		j, err := parseGCPJob(b)
		if err == nil && j.publicKeyDER == nil {
			err = fmt.Errorf("import job %s is %s and has no public key yet", j.name, j.state)
		}
		return j.publicKeyDER, "Google Cloud KMS import job", err
	case probe.Data["public_key"] != nil:
		_, der, err := parseVaultWrappingKey(b)
		return der, "Vault Transit wrapping key", err
	case probe.Data["public-key"] != nil:
		_, der, _, err := parseOCIWrappingKey(b)
		return der, "OCI Vault wrapping key", err
	}
	return nil, "", errors.New("JSON, but not import parameters of AWS KMS, Google Cloud KMS, Vault Transit or OCI Vault")
}

// parsePublicKey reads a SubjectPublicKeyInfo as PEM ("PUBLIC KEY"), DER or base64 of DER. A PEM
// "RSA PUBLIC KEY" (PKCS#1) is accepted too and re-encoded as SubjectPublicKeyInfo.
func parsePublicKey(b []byte) (any, []byte, error) {
	if len(b) > 0 && (b[0] == 0xef || b[0] == 0xff || b[0] == 0xfe) {
		if err := checkText(b); err != nil {
			return nil, nil, err
		}
	}
	if blk, rest := pem.Decode(b); blk != nil {
		if len(bytes.TrimSpace(rest)) > 0 {
			return nil, nil, errors.New("more than one PEM block")
		}
		switch blk.Type {
		case "PUBLIC KEY":
			b = blk.Bytes
		case "RSA PUBLIC KEY":
			k, err := x509.ParsePKCS1PublicKey(blk.Bytes)
			if err != nil {
				return nil, nil, err
			}
			der, err := x509.MarshalPKIXPublicKey(k)
			return k, der, err
		default:
			return nil, nil, fmt.Errorf("PEM block is %q, not PUBLIC KEY", blk.Type)
		}
	} else if bytes.Contains(b, []byte("-----BEGIN")) {
		return nil, nil, errors.New("malformed PEM")
	} else if d, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b))); err == nil && len(d) > 0 {
		b = d
	}
	pub, err := x509.ParsePKIXPublicKey(b)
	if err != nil {
		return nil, nil, errors.New("not a SubjectPublicKeyInfo")
	}
	return pub, bytes.Clone(b), nil
}

// keySpecName names a public key the way AWS names wrapping key specs: RSA_4096.
func keySpecName(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA_%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC_" + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "ED25519"
	case nil:
		return ""
	default:
		return fmt.Sprintf("%T", pub)
	}
}
