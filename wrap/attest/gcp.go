package attest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Result is what a passed check establishes, for the record and for people.
type Result struct {
	CheckedAt time.Time `json:"checked_at"`
	Job       string    `json:"import_job"`
	Format    string    `json:"format"`
	// StatementSHA256 is the SHA-256 of attestation.content (the gzip stream as the job gave it).
	StatementSHA256 string `json:"statement_sha256"`
	// WrappingKey is the SHA-256 of the job's public key (SubjectPublicKeyInfo DER).
	WrappingKey string   `json:"wrapping_key_sha256"`
	Anchors     []Anchor `json:"anchors"`
	// The certificates each chain was built from, as SHA-256 of their DER.
	ManufacturerCard      string     `json:"manufacturer_card_sha256"`
	ManufacturerPartition string     `json:"manufacturer_partition_sha256"`
	OwnerCard             string     `json:"owner_card_sha256"`
	OwnerPartition        string     `json:"owner_partition_sha256"`
	Key                   Attributed `json:"attested_key"`
	Verdict               string     `json:"verdict"`
}

// Attributed are the attested key's attributes the check read.
type Attributed struct {
	ModulusBits      int    `json:"modulus_bits"`
	ModulusSHA256    string `json:"modulus_sha256"`
	Exponent         string `json:"public_exponent"`
	Extractable      bool   `json:"extractable"`
	NeverExtractable bool   `json:"never_extractable"`
	Local            bool   `json:"local"`
	Sensitive        bool   `json:"sensitive"`
}

// VerdictAttested is the verdict of a check that passed: every step in the package documentation held.
const VerdictAttested = "attested: the wrapping key is an RSA key generated in a Marvell LiquidSecurity HSM partition that Google operates, and it cannot leave it"

// Job is the part of gcloud kms import-jobs describe --format=json the check reads.
type Job struct {
	Name            string `json:"name"`
	ProtectionLevel string `json:"protectionLevel"`
	PublicKey       struct {
		PEM string `json:"pem"`
	} `json:"publicKey"`
	Attestation *struct {
		Format     string `json:"format"`
		Content    string `json:"content"`
		CertChains struct {
			Cavium    []string `json:"caviumCerts"`
			Card      []string `json:"googleCardCerts"`
			Partition []string `json:"googlePartitionCerts"`
		} `json:"certChains"`
	} `json:"attestation"`
}

// ParseJob reads the import job's JSON.
func ParseJob(b []byte) (*Job, error) {
	var j Job
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&j); err != nil {
		return nil, fmt.Errorf("not the JSON of gcloud kms import-jobs describe --format=json: %v", err)
	}
	if j.Name == "" {
		return nil, errors.New("the import job has no name: not the JSON of gcloud kms import-jobs describe --format=json")
	}
	return &j, nil
}

// HasAttestation says whether the job carries an attestation (HSM jobs do).
func (j *Job) HasAttestation() bool { return j.Attestation != nil }

// CheckGCP checks an import job's attestation against the pinned roots at now. statement, when
// not nil, is the file gcloud wrote with --attestation-file and stands for attestation.content;
// both given must be the same bytes.
func CheckGCP(job []byte, statement []byte, now time.Time) (*Result, error) {
	return checkGCP(job, statement, now, pinned)
}

func checkGCP(jobJSON, statement []byte, now time.Time, roots anchors) (*Result, error) {
	j, err := ParseJob(jobJSON)
	if err != nil {
		return nil, err
	}
	if j.Attestation == nil {
		if j.ProtectionLevel == "HSM" {
			return nil, fmt.Errorf("import job %s is at protection level HSM, but this JSON of it carries no attestation: it was cut, or not written by gcloud kms import-jobs describe --format=json", j.Name)
		}
		return nil, fmt.Errorf("import job %s has no attestation: its protection level is %q, and only HSM jobs have one", j.Name, j.ProtectionLevel)
	}
	a := j.Attestation
	content, err := base64.StdEncoding.DecodeString(a.Content)
	if err != nil {
		return nil, errors.New("attestation.content is not base64")
	}
	if statement != nil {
		if len(content) > 0 && !bytes.Equal(content, statement) {
			return nil, errors.New("the attestation file differs from the import job's attestation.content")
		}
		content = statement
	}
	if len(content) == 0 {
		return nil, errors.New("the import job's attestation has no content")
	}
	pub, spki, err := jobKey(j.PublicKey.PEM)
	if err != nil {
		return nil, err
	}
	r := &Result{CheckedAt: now.UTC(), Job: j.Name, Format: a.Format, StatementSHA256: sha(content), WrappingKey: sha(spki)}

	mfr, err := parseCerts("caviumCerts", a.CertChains.Cavium)
	if err != nil {
		return nil, err
	}
	card, err := parseCerts("googleCardCerts", a.CertChains.Card)
	if err != nil {
		return nil, err
	}
	part, err := parseCerts("googlePartitionCerts", a.CertChains.Partition)
	if err != nil {
		return nil, err
	}
	// The manufacturer chain: a pinned Marvell root, the card, the partition.
	mRoot, mCard, err := issued(roots.manufacturer, mfr, nil, now)
	if err != nil {
		return nil, fmt.Errorf("caviumCerts: no card certificate is issued by a pinned Marvell root%s", why(err))
	}
	mPart, err := issuedBy(mCard, mfr, nil, now)
	if err != nil {
		return nil, fmt.Errorf("caviumCerts: no partition certificate is issued by the card certificate%s", why(err))
	}
	if err := onlyUsed("caviumCerts", mfr, roots.manufacturer, mCard, mPart); err != nil {
		return nil, err
	}
	// The owner chain: Google's root issues a certificate for the same card key and one for the
	// same partition key, as Google's verify_attestation_chains.py builds it.
	sameKey := func(want *x509.Certificate) func(*x509.Certificate) bool {
		return func(c *x509.Certificate) bool {
			return bytes.Equal(c.RawSubjectPublicKeyInfo, want.RawSubjectPublicKeyInfo)
		}
	}
	oRoot, oCard, err := issued(roots.owner, card, sameKey(mCard), now)
	if err != nil {
		return nil, fmt.Errorf("googleCardCerts: no certificate for the manufacturer's card key is issued by the pinned Google root%s", why(err))
	}
	if err := onlyUsed("googleCardCerts", card, roots.owner, oCard); err != nil {
		return nil, err
	}
	_, oPart, err := issued([]Anchor{oRoot}, part, sameKey(mPart), now)
	if err != nil {
		return nil, fmt.Errorf("googlePartitionCerts: no certificate for the manufacturer's partition key is issued by the pinned Google root%s", why(err))
	}
	if err := onlyUsed("googlePartitionCerts", part, roots.owner, oPart); err != nil {
		return nil, err
	}
	r.Anchors = []Anchor{mRoot, oRoot}
	r.ManufacturerCard, r.ManufacturerPartition = certHash(mCard), certHash(mPart)
	r.OwnerCard, r.OwnerPartition = certHash(oCard), certHash(oPart)

	raw, err := Gunzip(content)
	if err != nil {
		return nil, err
	}
	s, err := ParseStatement(a.Format, raw)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(s.Signed)
	for _, p := range []struct {
		who  string
		cert *x509.Certificate
	}{{"manufacturer", mPart}, {"Google", oPart}} {
		k, ok := p.cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("the %s partition certificate holds a %T, not an RSA key", p.who, p.cert.PublicKey)
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], s.Signature); err != nil {
			return nil, fmt.Errorf("the statement's signature does not verify under the %s partition key (RSA PKCS#1 v1.5, SHA-256)", p.who)
		}
	}
	if r.Key, err = checkKey(s, pub); err != nil {
		return nil, err
	}
	r.Verdict = VerdictAttested
	return r, nil
}

// checkKey compares the attested key with the job's public key and checks that the private key
// cannot leave the HSM.
func checkKey(s *Statement, pub *rsa.PublicKey) (Attributed, error) {
	var k Attributed
	p := s.Private
	if c, err := p.number(attrClass); err != nil || c != classPrivateKey {
		return k, fmt.Errorf("the attested object is not a private key (CLASS %s)", describe(p, attrClass, err))
	}
	if t, err := p.number(attrKeyType); err != nil || t != keyTypeRSA {
		return k, fmt.Errorf("the attested key is not an RSA key (KEY_TYPE %s)", describe(p, attrKeyType, err))
	}
	if s.Public != nil {
		if c, err := s.Public.number(attrClass); err != nil || c != classPublicKey {
			return k, fmt.Errorf("the first attested object is not a public key (CLASS %s)", describe(s.Public, attrClass, err))
		}
	}
	// The public key object carries the modulus and exponent (V2); V1 has only the private key
	// object, which carries them too. Wherever else they appear, they must agree.
	holder, which := s.Public, "public key"
	if holder == nil {
		holder, which = p, "private key"
	}
	wantE := big.NewInt(int64(pub.E))
	for _, attr := range []struct {
		typ  uint32
		want *big.Int
		what string
	}{{attrModulus, pub.N, "modulus"}, {attrPublicExponent, wantE, "public exponent"}} {
		if holder.bigInt(attr.typ) == nil {
			return k, fmt.Errorf("the attested %s object holds no %s (%s)", which, attr.what, attrName(attr.typ))
		}
		for _, o := range []Attributes{s.Public, p} {
			if v := o.bigInt(attr.typ); v != nil && v.Cmp(attr.want) != 0 {
				return k, fmt.Errorf("the attested key's %s differs from the import job's public key: the HSM attests another key", attr.what)
			}
		}
	}
	k.ModulusBits, k.ModulusSHA256, k.Exponent = pub.N.BitLen(), sha(pub.N.Bytes()), wantE.String()
	for _, f := range []struct {
		typ  uint32
		want bool
		into *bool
	}{{attrExtractable, false, &k.Extractable}, {attrNeverExtractable, true, &k.NeverExtractable},
		{attrLocal, true, &k.Local}, {attrSensitive, true, &k.Sensitive}} {
		v, err := p.flag(f.typ)
		if err != nil {
			return k, fmt.Errorf("the private key's %v", err)
		}
		if v != f.want {
			return k, fmt.Errorf("the private key's %s is %t; it must be %t", attrName(f.typ), v, f.want)
		}
		*f.into = v
	}
	return k, nil
}

func describe(a Attributes, typ uint32, err error) string {
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return fmt.Sprintf("is %x", a[typ])
}

// jobKey reads publicKey.pem: an RSA SubjectPublicKeyInfo.
func jobKey(p string) (*rsa.PublicKey, []byte, error) {
	blk, _ := pem.Decode([]byte(p))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, nil, errors.New("the import job's publicKey.pem is not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("the import job's publicKey.pem: %v", err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("the import job's public key is a %T, not RSA", k)
	}
	return rk, blk.Bytes, nil
}

// parseCerts reads one of certChains' lists, each entry a PEM text of one or more certificates.
func parseCerts(field string, list []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, s := range list {
		rest := []byte(s)
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("certChains.%s holds a %q PEM block, not a certificate", field, blk.Type)
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("certChains.%s: %v", field, err)
			}
			out = append(out, c)
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("certChains.%s holds text that is not a PEM certificate", field)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("certChains.%s is empty", field)
	}
	return out, nil
}

// issued finds, among certs, one issued by one of the anchors that satisfies want, and is valid
// at now. The anchors' own validity dates are not checked (see the package documentation).
func issued(roots []Anchor, certs []*x509.Certificate, want func(*x509.Certificate) bool, now time.Time) (Anchor, *x509.Certificate, error) {
	var last error = errNone
	for _, a := range roots {
		c, err := issuedBy(a.cert, certs, want, now)
		if err == nil {
			return a, c, nil
		}
		last = err
	}
	return Anchor{}, nil, last
}

// issuedBy finds, among certs, one that parent signed, that satisfies want and is valid at now.
// A certificate that parent signed but that has expired is named in the error.
func issuedBy(parent *x509.Certificate, certs []*x509.Certificate, want func(*x509.Certificate) bool, now time.Time) (*x509.Certificate, error) {
	var expired *x509.Certificate
	for _, c := range certs {
		// The issuer's name and signature, as the published verifiers check them: the HSM's
		// device certificates are not a web PKI, and their CA flags are not what vouches for them.
		if bytes.Equal(c.Raw, parent.Raw) || !bytes.Equal(c.RawIssuer, parent.RawSubject) ||
			parent.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
			continue
		}
		if want != nil && !want(c) {
			continue
		}
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			expired = c
			continue
		}
		return c, nil
	}
	if expired != nil {
		return nil, fmt.Errorf("%q is valid from %s to %s, not at the check time %s", expired.Subject.CommonName,
			expired.NotBefore.UTC().Format(time.RFC3339), expired.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil, errNone
}

// errNone says no certificate fits; the caller says which.
var errNone = errors.New("none fits")

// why adds the reason a chain could not be built, when there is more to say than none fits.
func why(err error) string {
	if err == errNone {
		return ""
	}
	return ": " + err.Error()
}

// onlyUsed refuses a list with a certificate that is neither in the chain built nor a pinned root.
func onlyUsed(field string, certs []*x509.Certificate, roots []Anchor, used ...*x509.Certificate) error {
next:
	for _, c := range certs {
		for _, u := range used {
			if bytes.Equal(c.Raw, u.Raw) {
				continue next
			}
		}
		for _, a := range roots {
			if bytes.Equal(c.Raw, a.cert.Raw) {
				continue next
			}
		}
		return fmt.Errorf("certChains.%s holds a certificate that is in no chain to a pinned root: %q (SHA-256 %s)", field, c.Subject.CommonName, certHash(c))
	}
	return nil
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Summary says the result for people, one fact a line.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import job            %s\n", r.Job)
	fmt.Fprintf(&b, "format                %s\n", r.Format)
	fmt.Fprintf(&b, "checked at            %s\n", r.CheckedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "statement             SHA-256 %s\n", r.StatementSHA256)
	for _, a := range r.Anchors {
		fmt.Fprintf(&b, "pinned root           %s\n                      SHA-256 %s\n", a.Name, a.SHA256)
	}
	fmt.Fprintf(&b, "manufacturer chain    card %s\n                      partition %s\n", r.ManufacturerCard, r.ManufacturerPartition)
	fmt.Fprintf(&b, "Google chain          card %s\n                      partition %s\n", r.OwnerCard, r.OwnerPartition)
	fmt.Fprintf(&b, "wrapping key          SHA256:%s\n", r.WrappingKey)
	k := r.Key
	fmt.Fprintf(&b, "attested key          RSA-%d, exponent %s; EXTRACTABLE %t, NEVER_EXTRACTABLE %t, LOCAL %t, SENSITIVE %t\n",
		k.ModulusBits, k.Exponent, k.Extractable, k.NeverExtractable, k.Local, k.Sensitive)
	fmt.Fprintf(&b, "verdict               %s\n", r.Verdict)
	return b.String()
}

// Caveat is said with every verdict until a live import job has been checked.
const Caveat = "the statement format follows the published parsers (Marvell, Microsoft, Google) and has not yet been run against a live import job"
