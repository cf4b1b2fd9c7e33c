package wrap

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// The cloud profiles.
const (
	ProfileAWS   = "aws"
	ProfileGCP   = "gcp"
	ProfileAzure = "azure"
	ProfileVault = "vault"
	ProfileOCI   = "oci"
)

// Profiles lists the cloud profiles in the order the documentation gives them.
var Profiles = []string{ProfileAWS, ProfileGCP, ProfileAzure, ProfileVault, ProfileOCI}

// CloudName is how people name a profile's cloud: "AWS KMS", "Google Cloud KMS".
func CloudName(profile string) string {
	switch profile {
	case ProfileAWS:
		return "AWS KMS"
	case ProfileGCP:
		return "Google Cloud KMS"
	case ProfileAzure:
		return "Azure Key Vault"
	case ProfileVault:
		return "Vault Transit"
	case ProfileOCI:
		return "OCI Vault"
	}
	return profile
}

// Target is one import destination of a ceremony plan. Paths are relative to the plan's folder.
// Which fields a profile takes is checked by Load; the plan decoder rejects unknown ones.
type Target struct {
	// Name identifies the target in the plan, the transcript and the output folder.
	Name string `yaml:"name"`
	// Profile is aws, gcp, azure, vault or oci.
	Profile string `yaml:"profile"`
	// Params is the file the cloud's CLI wrote: aws kms get-parameters-for-import --output json;
	// gcloud kms import-jobs describe --format=json; the PEM of az keyvault key download;
	// vault read -format=json transit/wrapping_key; oci kms management wrapping-key get (or its PEM).
	Params string `yaml:"params,omitempty"`
	// PublicKey and ImportToken are the AWS alternative to Params: the wrapping public key
	// (DER, PEM or base64) and the raw import token, as separate files. KeyID and, if known,
	// ParametersValidTo (RFC 3339) go with them.
	PublicKey         string `yaml:"public_key,omitempty"`
	ImportToken       string `yaml:"import_token,omitempty"`
	KeyID             string `yaml:"key_id,omitempty"`
	ParametersValidTo string `yaml:"parameters_valid_to,omitempty"`
	// Alias is, in a rotation onto a new AWS KMS key, the alias that named the rotated key's KMS
	// key: the upload moves it to the new one (UpdateAlias). OCI takes KeyID in a rotation: the
	// OCID of the key that gets a new version.
	Alias string `yaml:"alias,omitempty"`
	// Algorithm is the cloud's name of the wrapping algorithm: AWS RSAES_OAEP_SHA_1,
	// RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256 (required); OCI
	// RSA_OAEP_AES_SHA256 or RSA_OAEP_SHA256 (required); GCP the import job's method and Azure
	// CKM_RSA_AES_KEY_WRAP (optional, checked when given).
	Algorithm string `yaml:"algorithm,omitempty"`
	// WrappingKeySpec is AWS's RSA_2048, RSA_3072 or RSA_4096, as asked of GetParametersForImport.
	WrappingKeySpec string `yaml:"wrapping_key_spec,omitempty"`
	// ExpirationModel is AWS's KEY_MATERIAL_EXPIRES (with ValidTo, RFC 3339 in whole seconds)
	// or KEY_MATERIAL_DOES_NOT_EXPIRE.
	ExpirationModel string `yaml:"expiration_model,omitempty"`
	ValidTo         string `yaml:"valid_to,omitempty"`
	// KID is the versioned key identifier of the Azure KEK.
	KID string `yaml:"kid,omitempty"`
	// HashFunction is Vault's hash_function: SHA1, SHA224, SHA256 (the default), SHA384 or SHA512.
	HashFunction string `yaml:"hash_function,omitempty"`
	// Mount is the Vault Transit mount, transit by default.
	Mount string `yaml:"mount,omitempty"`
	// KeyName names the key the cloud creates: the GCP crypto key (in the import job's key
	// ring), the Azure key, the Vault key, the OCI display name.
	KeyName string `yaml:"key_name,omitempty"`
	// KeyAlgorithm is GCP's CryptoKeyVersion algorithm (gcloud --algorithm) or Vault's key type;
	// derived from the key where only one fits.
	KeyAlgorithm string `yaml:"key_algorithm,omitempty"`
	// CompartmentID and Endpoint (the vault's management endpoint) are OCI's.
	CompartmentID string `yaml:"compartment_id,omitempty"`
	Endpoint      string `yaml:"endpoint,omitempty"`
	// Attestation is what a gcp target does with the import job's HSM attestation: required
	// (the default for a job at protection level HSM) refuses the ceremony unless it holds,
	// check records the result and goes on, skip records that it was not checked. See
	// Params.CheckAttestation and the package attest.
	Attestation string `yaml:"attestation,omitempty"`
	// AllowHostAssisted lets Wrap make the ephemeral AES key on the host when the token cannot
	// do the OAEP the cloud needs. The target key never leaves the token in clear either way.
	AllowHostAssisted bool `yaml:"allow_host_assisted,omitempty"`
	// AllowPaddedPKCS8 accepts a token that pads a private key's PKCS#8 before AES key wrap
	// (SoftHSM2 2.6.1 does): the cloud then receives zero bytes after the DER as part of the key.
	AllowPaddedPKCS8 bool `yaml:"allow_padded_pkcs8,omitempty"`
}

// construction is one of the two shapes every cloud format takes.
type construction int

const (
	direct construction = iota // RSAES-OAEP(target)
	rsaAES                     // RSAES-OAEP(ephemeral AES-256) || AES-KWP(target)
)

// method is a wrapping algorithm or import method as a cloud names it.
type method struct {
	name  string
	cons  construction
	hash  crypto.Hash
	sizes []int // RSA modulus sizes the cloud uses with it
}

var (
	awsMethods = []method{
		{"RSAES_OAEP_SHA_1", direct, crypto.SHA1, []int{2048, 3072, 4096}},
		{"RSAES_OAEP_SHA_256", direct, crypto.SHA256, []int{2048, 3072, 4096}},
		{"RSA_AES_KEY_WRAP_SHA_1", rsaAES, crypto.SHA1, []int{2048, 3072, 4096}},
		{"RSA_AES_KEY_WRAP_SHA_256", rsaAES, crypto.SHA256, []int{2048, 3072, 4096}},
	}
	gcpMethods = []method{
		{"RSA_OAEP_3072_SHA1_AES_256", rsaAES, crypto.SHA1, []int{3072}},
		{"RSA_OAEP_4096_SHA1_AES_256", rsaAES, crypto.SHA1, []int{4096}},
		{"RSA_OAEP_3072_SHA256_AES_256", rsaAES, crypto.SHA256, []int{3072}},
		{"RSA_OAEP_4096_SHA256_AES_256", rsaAES, crypto.SHA256, []int{4096}},
		{"RSA_OAEP_3072_SHA256", direct, crypto.SHA256, []int{3072}},
		{"RSA_OAEP_4096_SHA256", direct, crypto.SHA256, []int{4096}},
	}
	azureMethod = method{"CKM_RSA_AES_KEY_WRAP", rsaAES, crypto.SHA1, []int{2048, 3072, 4096}}
	ociMethods  = []method{
		{"RSA_OAEP_AES_SHA256", rsaAES, crypto.SHA256, []int{4096}},
		{"RSA_OAEP_SHA256", direct, crypto.SHA256, []int{4096}},
	}
	vaultHashes = map[string]crypto.Hash{
		"SHA1": crypto.SHA1, "SHA224": crypto.SHA224, "SHA256": crypto.SHA256,
		"SHA384": crypto.SHA384, "SHA512": crypto.SHA512,
	}
)

func findMethod(ms []method, name string) (method, bool) {
	i := slices.IndexFunc(ms, func(m method) bool { return m.name == name })
	if i < 0 {
		return method{}, false
	}
	return ms[i], true
}

func methodNames(ms []method) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return strings.Join(names, ", ")
}

// Params are a target's import parameters, read and parsed, ready for Validate and Wrap.
type Params struct {
	// Target is the plan's entry these parameters were loaded for.
	Target Target
	// Algorithm is the cloud's own name of the wrapping algorithm or import method.
	Algorithm string
	// WrappingKeySpec is the cloud key's type and size, "RSA_4096" style.
	WrappingKeySpec string
	// PublicKeyDER is the cloud's wrapping public key, SubjectPublicKeyInfo DER as the cloud gave it.
	PublicKeyDER []byte
	// ValidTo is when the import parameters expire; zero when the cloud states no expiry.
	ValidTo time.Time

	// Inputs are the files the parameters were read from, in the order read, with their bytes:
	// what a ceremony pins when a witness has checked them.
	Inputs []Input

	method method
	pub    any               // the parsed public key, checked to be RSA by Validate
	pinned map[string][]byte // LoadPinned: the bytes of each file, by field

	// aws
	keyID       string
	importToken []byte
	materialTo  time.Time // ValidTo of the key material, KEY_MATERIAL_EXPIRES only
	// gcp
	job         gcpJob
	attestation string // the policy: AttestationRequired, AttestationCheck, AttestationSkip, or "" for a job without one
	// azure
	kekVault string
	managed  bool
	// oci
	ociState string
}

// Fingerprint is "SHA256:" and the hex SHA-256 of the wrapping key's SubjectPublicKeyInfo DER.
func (p *Params) Fingerprint() string { return spki.Fingerprint(p.PublicKeyDER) }

// rsaKey is the wrapping key; only valid after Validate.
func (p *Params) rsaKey() *rsa.PublicKey {
	k, _ := p.pub.(*rsa.PublicKey)
	return k
}

func (t *Target) label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Profile
}

// errorf is a refusal naming the target: "target NAME: " and format, its hint apart.
func (t *Target) errorf(format string, args ...any) error {
	err := fmt.Errorf("target %q: "+format, append([]any{t.label()}, args...)...)
	what, hint, _ := strings.Cut(err.Error(), "\nhint: ")
	return &errs.Error{What: what, Hint: hint, Err: err}
}

// targetFields lists each optional Target field with the profiles that take it.
var targetFields = []struct {
	name     string
	set      func(*Target) bool
	profiles []string
}{
	{"public_key", func(t *Target) bool { return t.PublicKey != "" }, []string{ProfileAWS}},
	{"import_token", func(t *Target) bool { return t.ImportToken != "" }, []string{ProfileAWS}},
	{"key_id", func(t *Target) bool { return t.KeyID != "" }, []string{ProfileAWS, ProfileOCI}},
	{"alias", func(t *Target) bool { return t.Alias != "" }, []string{ProfileAWS}},
	{"parameters_valid_to", func(t *Target) bool { return t.ParametersValidTo != "" }, []string{ProfileAWS}},
	{"algorithm", func(t *Target) bool { return t.Algorithm != "" }, []string{ProfileAWS, ProfileGCP, ProfileAzure, ProfileOCI}},
	{"wrapping_key_spec", func(t *Target) bool { return t.WrappingKeySpec != "" }, []string{ProfileAWS}},
	{"expiration_model", func(t *Target) bool { return t.ExpirationModel != "" }, []string{ProfileAWS}},
	{"valid_to", func(t *Target) bool { return t.ValidTo != "" }, []string{ProfileAWS}},
	{"kid", func(t *Target) bool { return t.KID != "" }, []string{ProfileAzure}},
	{"hash_function", func(t *Target) bool { return t.HashFunction != "" }, []string{ProfileVault}},
	{"mount", func(t *Target) bool { return t.Mount != "" }, []string{ProfileVault}},
	{"key_name", func(t *Target) bool { return t.KeyName != "" }, []string{ProfileGCP, ProfileAzure, ProfileVault, ProfileOCI}},
	{"key_algorithm", func(t *Target) bool { return t.KeyAlgorithm != "" }, []string{ProfileGCP, ProfileVault}},
	{"compartment_id", func(t *Target) bool { return t.CompartmentID != "" }, []string{ProfileOCI}},
	{"endpoint", func(t *Target) bool { return t.Endpoint != "" }, []string{ProfileOCI}},
	{"attestation", func(t *Target) bool { return t.Attestation != "" }, []string{ProfileGCP}},
}

// Input is one file a target's parameters were read from.
type Input struct {
	Field string // the target's field naming the file: params, public_key or import_token
	Path  string // where it was read, relative paths taken from the plan's folder
	Data  []byte
}

// Load reads and parses a target's import parameters. Relative paths are taken from baseDir.
// It checks that the files are what the cloud's CLI prints and that the plan's fields are
// complete; Validate then checks them against the key.
func Load(t Target, baseDir string) (*Params, error) { return load(t, baseDir, nil) }

// LoadPinned parses a target's import parameters from the bytes of its files, by field (as
// [Params.Inputs] gave them when they were checked), instead of reading the files again.
func LoadPinned(t Target, files map[string][]byte) (*Params, error) { return load(t, "", files) }

func load(t Target, baseDir string, pinned map[string][]byte) (*Params, error) {
	if !slices.Contains(Profiles, t.Profile) {
		return nil, t.errorf("unknown profile %q\nhint: use one of %s", t.Profile, strings.Join(Profiles, ", "))
	}
	for _, f := range targetFields {
		if f.set(&t) && !slices.Contains(f.profiles, t.Profile) {
			return nil, t.errorf("%s does not apply to profile %s\nhint: remove it from the target", f.name, t.Profile)
		}
	}
	if t.Params == "" && !(t.Profile == ProfileAWS && (t.PublicKey != "" || t.ImportToken != "")) {
		return nil, t.errorf("params is missing\nhint: %s", paramsHint[t.Profile])
	}
	p := &Params{Target: t, pinned: pinned}
	var err error
	switch t.Profile {
	case ProfileAWS:
		err = p.loadAWS(baseDir)
	case ProfileGCP:
		err = p.loadGCP(baseDir)
	case ProfileAzure:
		err = p.loadAzure(baseDir)
	case ProfileVault:
		err = p.loadVault(baseDir)
	case ProfileOCI:
		err = p.loadOCI(baseDir)
	}
	if err != nil {
		return nil, err
	}
	p.WrappingKeySpec = keySpecName(p.pub)
	if t.Profile == ProfileAWS {
		p.WrappingKeySpec = t.WrappingKeySpec
	}
	return p, nil
}

// paramsHint says, per profile, which command prints the parameters file.
var paramsHint = map[string]string{
	ProfileAWS:   "save the output of aws kms get-parameters-for-import --output json, or give public_key and import_token",
	ProfileGCP:   "save the output of gcloud kms import-jobs describe JOB --location L --keyring R --format=json",
	ProfileAzure: "save the KEK's public key with az keyvault key download --name KEK --vault-name V --file kek.pem",
	ProfileVault: "save the output of vault read -format=json transit/wrapping_key",
	ProfileOCI:   "save the output of oci kms management wrapping-key get --endpoint MANAGEMENT_ENDPOINT",
}

// read reads a file named in the plan, or takes its pinned bytes, and returns it with the path
// it was read from.
func (p *Params) read(field, name, baseDir string) ([]byte, string, error) {
	path := name
	if !filepath.IsAbs(path) && p.pinned == nil {
		path = filepath.Join(baseDir, path)
	}
	var b []byte
	var err error
	if p.pinned != nil {
		var ok bool
		if b, ok = p.pinned[field]; !ok {
			return nil, "", p.Target.errorf("no checked copy of %s %s\nhint: the check of this target's wrapping key did not record it; run the check again", field, name)
		}
	} else {
		b, err = os.ReadFile(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", p.Target.errorf("%s file %s does not exist\nhint: paths in the plan are relative to the plan's folder", field, path)
	}
	if err != nil {
		return nil, "", p.Target.errorf("cannot read %s: %v", field, err)
	}
	p.Inputs = append(p.Inputs, Input{Field: field, Path: path, Data: b})
	return b, path, nil
}

func (p *Params) loadAWS(baseDir string) error {
	t := &p.Target
	if t.Params != "" && (t.PublicKey != "" || t.ImportToken != "" || t.KeyID != "" || t.ParametersValidTo != "") {
		return t.errorf("give either params or public_key, import_token and key_id, not both\nhint: params already holds the key ID, public key, import token and expiry")
	}
	if t.Params != "" {
		b, path, err := p.read("params", t.Params, baseDir)
		if err != nil {
			return err
		}
		a, err := parseAWSParams(b)
		if err != nil {
			return t.errorf("%s is not the output of aws kms get-parameters-for-import --output json: %v\nhint: %s", path, err, paramsHint[ProfileAWS])
		}
		p.keyID, p.importToken, p.PublicKeyDER, p.pub, p.ValidTo = a.keyID, a.importToken, a.publicKeyDER, a.pub, a.validTo
	} else {
		if t.PublicKey == "" || t.ImportToken == "" || t.KeyID == "" {
			return t.errorf("public_key, import_token and key_id go together\nhint: give all three, or params instead")
		}
		b, path, err := p.read("public_key", t.PublicKey, baseDir)
		if err != nil {
			return err
		}
		if p.pub, p.PublicKeyDER, err = parsePublicKey(b); err != nil {
			return t.errorf("public_key %s is not a public key: %v\nhint: decode the PublicKey of get-parameters-for-import with base64 -d into a file", path, err)
		}
		if b, path, err = p.read("import_token", t.ImportToken, baseDir); err != nil {
			return err
		}
		if p.importToken, err = decodeImportToken(b); err != nil {
			return t.errorf("import_token %s is not an AWS import token: %v\nhint: save the ImportToken of get-parameters-for-import decoded: jq -r .ImportToken params.json | base64 -d > token.bin", path, err)
		}
		p.keyID = t.KeyID
		if t.ParametersValidTo != "" {
			if p.ValidTo, err = time.Parse(time.RFC3339, t.ParametersValidTo); err != nil {
				return t.errorf("parameters_valid_to %q is not an RFC 3339 time\nhint: copy ParametersValidTo, e.g. 2026-11-28T09:00:00Z", t.ParametersValidTo)
			}
		}
	}
	if t.Alias != "" && (!awsAlias.MatchString(t.Alias) || strings.HasPrefix(t.Alias, "alias/aws/")) {
		return t.errorf("alias %q is not a KMS alias name\nhint: give it as aws kms list-aliases prints it: alias/ and letters, digits, /, _ and -, not alias/aws/", t.Alias)
	}
	switch t.Algorithm {
	case "":
		return t.errorf("algorithm is missing\nhint: give the WrappingAlgorithm asked of get-parameters-for-import: %s", methodNames(awsMethods))
	case "RSAES_PKCS1_V1_5":
		return t.errorf("AWS KMS no longer accepts RSAES_PKCS1_V1_5 (since 2023-10-10)\nhint: fetch new import parameters with RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256")
	}
	m, ok := findMethod(awsMethods, t.Algorithm)
	if !ok {
		return t.errorf("algorithm %q is not an AWS KMS wrapping algorithm keyceremony supports\nhint: use one of %s", t.Algorithm, methodNames(awsMethods))
	}
	p.method, p.Algorithm = m, m.name
	switch t.WrappingKeySpec {
	case "RSA_2048", "RSA_3072", "RSA_4096":
	case "":
		return t.errorf("wrapping_key_spec is missing\nhint: give the WrappingKeySpec asked of get-parameters-for-import: RSA_2048, RSA_3072 or RSA_4096")
	default:
		return t.errorf("wrapping_key_spec %q is not one keyceremony supports\nhint: use RSA_2048, RSA_3072 or RSA_4096", t.WrappingKeySpec)
	}
	switch t.ExpirationModel {
	case "KEY_MATERIAL_DOES_NOT_EXPIRE":
		if t.ValidTo != "" {
			return t.errorf("valid_to is set but expiration_model is KEY_MATERIAL_DOES_NOT_EXPIRE\nhint: remove valid_to, or use KEY_MATERIAL_EXPIRES")
		}
	case "KEY_MATERIAL_EXPIRES":
		if t.ValidTo == "" {
			return t.errorf("expiration_model KEY_MATERIAL_EXPIRES needs valid_to\nhint: add valid_to: an RFC 3339 time in whole seconds, at most 365 days ahead")
		}
		v, err := time.Parse(time.RFC3339, t.ValidTo)
		if err != nil || v.Nanosecond() != 0 {
			return t.errorf("valid_to %q is not an RFC 3339 time in whole seconds\nhint: write it like 2027-06-30T00:00:00Z", t.ValidTo)
		}
		p.materialTo = v.UTC()
	case "":
		return t.errorf("expiration_model is missing\nhint: say KEY_MATERIAL_EXPIRES (with valid_to) or KEY_MATERIAL_DOES_NOT_EXPIRE; AWS would default to KEY_MATERIAL_EXPIRES")
	default:
		return t.errorf("expiration_model %q is not KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE", t.ExpirationModel)
	}
	return nil
}

var (
	gcpJobName = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/keyRings/([^/]+)/importJobs/([^/]+)$`)
	gcpKeyID   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)
)

func (p *Params) loadGCP(baseDir string) error {
	t := &p.Target
	b, path, err := p.read("params", t.Params, baseDir)
	if err != nil {
		return err
	}
	if p.job, err = parseGCPJob(b); err != nil {
		return t.errorf("%s is not the output of gcloud kms import-jobs describe --format=json: %v\nhint: %s", path, err, paramsHint[ProfileGCP])
	}
	p.pub, p.PublicKeyDER, p.ValidTo = p.job.pub, p.job.publicKeyDER, p.job.expireTime
	m, ok := findMethod(gcpMethods, p.job.importMethod)
	if !ok {
		return t.errorf("import job %s uses import method %s, which keyceremony does not support\nhint: create an import job with one of %s", p.job.name, p.job.importMethod, methodNames(gcpMethods))
	}
	if t.Algorithm != "" && t.Algorithm != m.name {
		return t.errorf("algorithm %s does not match the import job's method %s\nhint: remove algorithm, or give the params of the import job you meant", t.Algorithm, m.name)
	}
	p.method, p.Algorithm = m, m.name
	if p.attestation, err = attestationPolicy(t, p.job); err != nil {
		return err
	}
	if !gcpKeyID.MatchString(t.KeyName) {
		return t.errorf("key_name %q is not a Cloud KMS key ID\nhint: give the ID of the crypto key (in key ring %s) to import into: letters, digits, _ and -, at most 63", t.KeyName, p.job.keyRing)
	}
	return nil
}

func (p *Params) loadAzure(baseDir string) error {
	t := &p.Target
	b, path, err := p.read("params", t.Params, baseDir)
	if err != nil {
		return err
	}
	if p.pub, p.PublicKeyDER, err = parsePublicKey(b); err != nil {
		return t.errorf("%s is not a public key: %v\nhint: %s", path, err, paramsHint[ProfileAzure])
	}
	if t.Algorithm != "" && t.Algorithm != azureMethod.name {
		return t.errorf("algorithm %q is not the Azure BYOK transform\nhint: remove algorithm; Azure BYOK uses %s", t.Algorithm, azureMethod.name)
	}
	p.method, p.Algorithm = azureMethod, azureMethod.name
	if p.kekVault, p.managed, err = parseAzureKID(t.KID); err != nil {
		return t.errorf("kid %q %v\nhint: copy key.kid of az keyvault key show --name KEK --vault-name V (or --hsm-name H); it ends in the key version", t.KID, err)
	}
	if !azureKeyName.MatchString(t.KeyName) {
		return t.errorf("key_name %q is not an Azure key name\nhint: give the name of the key to create: letters, digits and -, at most 127", t.KeyName)
	}
	return nil
}

var (
	azureKeyName = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	azureVersion = regexp.MustCompile(`^[0-9a-zA-Z]+$`)
)

// parseAzureKID checks that kid is a versioned key identifier and returns the vault (or
// Managed HSM) name and whether it is a Managed HSM.
func parseAzureKID(kid string) (vault string, managed bool, err error) {
	if kid == "" {
		return "", false, errors.New("is missing")
	}
	u, err := url.Parse(kid)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", false, errors.New("is not an https key identifier")
	}
	vault, domain, ok := strings.Cut(u.Hostname(), ".")
	if !ok || vault == "" {
		return "", false, errors.New("does not name a vault")
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "keys" || !azureKeyName.MatchString(parts[1]) {
		return "", false, errors.New("is not a key identifier (https://VAULT/keys/NAME/VERSION)")
	}
	if len(parts) == 2 || (len(parts) == 3 && parts[2] == "") {
		return "", false, errors.New("has no key version: Azure BYOK needs the versioned KEK identifier")
	}
	if len(parts) != 3 || !azureVersion.MatchString(parts[2]) {
		return "", false, errors.New("is not a key identifier (https://VAULT/keys/NAME/VERSION)")
	}
	return vault, strings.HasPrefix(domain, "managedhsm."), nil
}

func (p *Params) loadVault(baseDir string) error {
	t := &p.Target
	b, path, err := p.read("params", t.Params, baseDir)
	if err != nil {
		return err
	}
	if p.pub, p.PublicKeyDER, err = parseVaultWrappingKey(b); err != nil {
		return t.errorf("%s is not the output of vault read -format=json transit/wrapping_key: %v\nhint: %s", path, err, paramsHint[ProfileVault])
	}
	hf := t.HashFunction
	if hf == "" {
		hf = "SHA256"
	}
	h, ok := vaultHashes[hf]
	if !ok {
		return t.errorf("hash_function %q is not one Vault accepts\nhint: use SHA1, SHA224, SHA256, SHA384 or SHA512", t.HashFunction)
	}
	p.method = method{"hash_function=" + hf, rsaAES, h, []int{4096}}
	p.Algorithm = p.method.name
	if !vaultName.MatchString(t.KeyName) {
		return t.errorf("key_name %q is not a Vault Transit key name\nhint: give the name of the key to create, e.g. payments-2026", t.KeyName)
	}
	if t.Mount != "" && !vaultMount.MatchString(t.Mount) {
		return t.errorf("mount %q is not a Vault mount path\nhint: give the Transit mount without slashes at either end, e.g. transit", t.Mount)
	}
	return nil
}

var (
	vaultName  = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	vaultMount = regexp.MustCompile(`^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$`)
	ociOCID    = regexp.MustCompile(`^ocid1\.(compartment|tenancy)\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9]+$`)
	ociKeyOCID = regexp.MustCompile(`^ocid1\.key\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9.-]+$`)
	awsAlias   = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
)

func (p *Params) loadOCI(baseDir string) error {
	t := &p.Target
	b, path, err := p.read("params", t.Params, baseDir)
	if err != nil {
		return err
	}
	if p.pub, p.PublicKeyDER, p.ociState, err = parseOCIWrappingKey(b); err != nil {
		return t.errorf("%s is neither the output of oci kms management wrapping-key get nor a public key PEM: %v\nhint: %s", path, err, paramsHint[ProfileOCI])
	}
	if t.Algorithm == "" {
		return t.errorf("algorithm is missing\nhint: use RSA_OAEP_AES_SHA256 (any key) or RSA_OAEP_SHA256 (AES keys)")
	}
	m, ok := findMethod(ociMethods, t.Algorithm)
	if !ok {
		return t.errorf("algorithm %q is not an OCI wrapping algorithm\nhint: use %s", t.Algorithm, methodNames(ociMethods))
	}
	p.method, p.Algorithm = m, m.name
	if !ociOCID.MatchString(t.CompartmentID) {
		return t.errorf("compartment_id %q is not a compartment OCID\nhint: give the OCID of the compartment to create the key in (ocid1.compartment.oc1..)", t.CompartmentID)
	}
	if t.KeyName == "" || len(t.KeyName) > 255 {
		return t.errorf("key_name is missing or longer than 255 characters\nhint: give the display name of the key to create")
	}
	if u, err := url.Parse(t.Endpoint); err != nil || u.Scheme != "https" || u.Host == "" {
		return t.errorf("endpoint %q is not the vault's https management endpoint\nhint: copy management-endpoint of oci kms management vault get --vault-id VAULT", t.Endpoint)
	}
	if t.KeyID != "" && !ociKeyOCID.MatchString(t.KeyID) {
		return t.errorf("key_id %q is not a key OCID\nhint: copy the id of the key to add a version to (ocid1.key.oc1..) from oci kms management key list", t.KeyID)
	}
	return nil
}
