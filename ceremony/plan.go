package ceremony

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/internal/errs"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
	"github.com/keyceremony/keyceremony/wrap"
)

// Files the ceremony keeps in its output folder besides the transcript: a copy of the plan, which
// `run --resume DIR` follows, and the plan's absolute path, from whose folder relative paths in
// the plan start (see LoadFolder).
const (
	PlanCopyName   = "plan.yaml"
	PlanSourceName = "plan.source"
)

// InputsDir is the folder of the record that holds a copy of each small public input a witness
// checked (import parameters, public keys, import tokens, the backup opened), named by the event
// that checked it.
const InputsDir = "inputs"

// Kinds of ceremony a plan can describe.
const (
	KindGenerate = "generate" // make a key in the HSM, back it up, wrap it for the targets
	KindRotate   = "rotate"   // a generate whose keys replace keys of earlier ceremonies (rotates:), as new versions of the same cloud keys
	KindRestore  = "restore"  // a quorum restores a backed-up key into a token
	KindReshare  = "reshare"  // a quorum opens a backup and issues a new share set for a new roster
	KindRewrap   = "rewrap"   // wrap a key already in the token for more targets
	KindCheckIn  = "check-in" // custodians prove they still hold their shares; no HSM (keyceremony check-in)
)

// Roles a participant may hold. Custodians are named in the backup section.
const (
	RoleAdministrator   = "administrator"
	RoleSecurityOfficer = "security-officer"
	RoleWitness         = "witness"
	RoleCustodian       = "custodian"
)

// Share deliveries.
const (
	DeliveryTyped         = "typed"          // shown on the screen as text and QR; the custodian copies it
	DeliveryQR            = "qr"             // the same screen, for a custodian who photographs the QR code
	DeliveryAgePassphrase = "age-passphrase" // an age file encrypted to a passphrase the tool makes (or, if planned, the custodian chooses)
	DeliveryAgeRecipient  = "age-recipient"  // an age file encrypted to the custodian's age or SSH public key
	DeliveryPrint         = "print"          // a one-page PDF share card in the handouts folder, printed offline and deleted
)

// Plan is one reviewable ceremony plan. It never holds a PIN or passphrase: those come from the
// terminal or, for automation, from an environment variable or file named on the command line.
type Plan struct {
	Version  int       `yaml:"version"`
	Kind     string    `yaml:"kind"`
	Ceremony string    `yaml:"ceremony"`
	Token    TokenPlan `yaml:"token"`
	Key      KeyPlan   `yaml:"key"`
	// Keys lists the keys of a ceremony that makes several; each names its own targets. It
	// replaces key and targets. See views.
	Keys         []KeyPlan    `yaml:"keys"`
	Participants []Actor      `yaml:"participants"`
	Backup       *BackupPlan  `yaml:"backup"`
	Restore      *RestorePlan `yaml:"restore"`
	CheckIn      *CheckInPlan `yaml:"check_in"`
	// Targets are the plan's targets. In a keys: plan they are every key's targets, set by
	// validate and named LABEL/TARGET, which is also their folder under targets/ and inputs/.
	Targets []wrap.Target `yaml:"targets"`
	Custody CustodyPlan   `yaml:"custody"`
	Require RequirePlan   `yaml:"require"`
	Cosign  []CosignPlan  `yaml:"cosign"`
	Output  string        `yaml:"output"`
	// ExpiryMargin is how long every target's import parameters must still be valid when the
	// ceremony starts (a Go duration, "90m"); an hour when empty.
	ExpiryMargin string `yaml:"expiry_margin"`

	// dir is the folder of the plan file; relative paths in the plan are relative to it.
	dir string
	// raw is the plan file's bytes, copied into the output folder; sum is their SHA-256.
	raw []byte
	sum string
	// spec is Key.Type parsed.
	spec hsmspec.KeySpec
	// scope is, in a view of a keys: plan (Views), the label of the key it is about; "" in the
	// plan itself. targetSpec gives the key type each of the plan's targets wraps.
	scope      string
	targetSpec map[string]hsmspec.KeySpec
	// checkedBy names, for each target, the target whose check-wrapping-key step checks its
	// wrapping key: the first target in the plan with the same import parameter files.
	checkedBy map[string]string
	// history are the folders a rotation's keys are looked up in (SetHistory), and rotations what
	// checkRotations found there, by key label, shared by the views.
	history   []string
	rotations map[string]*Rotation
	// out is the ceremony folder when the plan was loaded from it (LoadFolder), and source the
	// plan file that started that ceremony.
	out, source string
}

// TokenPlan names the PKCS#11 module and the token in it.
type TokenPlan struct {
	Module string `yaml:"module"`
	Token  string `yaml:"token"` // label or RFC 7512 pkcs11: URI
}

// KeyPlan names a target key. In a keys: list it names its own targets too.
type KeyPlan struct {
	Label   string        `yaml:"label"`
	Type    string        `yaml:"type"` // e.g. AES-256, HMAC-256, RSA-3072, EC P-256
	Targets []wrap.Target `yaml:"targets"`
	// Rotates is, in a rotation (kind: rotate), the key this one replaces.
	Rotates *RotatesPlan `yaml:"rotates"`
}

// BackupPlan says how the key is backed up: M of the custodians, in share order.
type BackupPlan struct {
	Threshold  int  `yaml:"threshold"`
	AllowLarge bool `yaml:"allow_large"`
	// AllowWeakerWrap names the mechanism the backup may fall back to on a token that has
	// neither AES key wrap with padding nor, for the key's length, RFC 3394 key wrap: only
	// CKM_AES_CBC_PAD, which has no integrity of its own (hsmspec.BackupCBCPad). Recorded as an
	// exception when used.
	AllowWeakerWrap string `yaml:"allow_weaker_wrap"`
	// Handouts is the folder share files are written to: never inside the ceremony folder, which
	// is the record an auditor receives. Empty means the output folder's name + "-handouts".
	Handouts string `yaml:"handouts"`
	// Sets says how a keys: plan backs up its keys: shared (the default: one backup key wraps
	// every key, one share set, one handout per custodian) or per-key (a share set per key).
	Sets string `yaml:"sets"`
	// Bags asks for tamper-evident bags: at each handout the share is sealed into a bag whose
	// serial is typed and recorded; a restore compares the serial typed again.
	Bags       bool            `yaml:"bags"`
	Custodians []CustodianPlan `yaml:"custodians"`
}

// CustodianPlan is one share holder and how their share reaches them.
type CustodianPlan struct {
	Name      string `yaml:"name"`
	Delivery  string `yaml:"delivery"`
	Recipient string `yaml:"recipient"` // age1... or ssh-ed25519/ssh-rsa public key, for age-recipient
	// Passphrase is, for age-passphrase, who makes the passphrase: the tool (generated, the
	// default) or the custodian (chosen), who must then reach the same strength.
	Passphrase string `yaml:"passphrase"`
}

// How a keys: plan backs up its keys.
const (
	SetsShared = "shared"
	SetsPerKey = "per-key"
)

// Who makes an age-passphrase custodian's passphrase.
const (
	PassphraseGenerated = "generated"
	PassphraseChosen    = "chosen"
)

// RestorePlan names the backup a restore or re-share opens, and the ceremony folders whose
// verified transcripts say whether its set may be opened.
type RestorePlan struct {
	Manifest string `yaml:"manifest"`
	Blob     string `yaml:"blob"`
	// Ceremonies are the folders of the key's ceremonies: the one that sealed the set and every
	// re-share since. A set must be sealed in one of them, and is refused when one voids it or
	// a later set replaces it.
	Ceremonies []string `yaml:"ceremonies"`
	// AllowSuperseded opens a superseded set, for disaster recovery when the current set is
	// lost; the ceremony records it as an exception.
	AllowSuperseded bool `yaml:"allow_superseded"`
}

var ceremonyID = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// LoadPlan reads and strictly decodes a plan file: an unknown or misspelt key is an error naming
// its line. It checks the plan's own consistency; Check goes on to the files and the token.
func LoadPlan(path string) (*Plan, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Unchanged(fmt.Sprintf("plan %s does not exist", path), "give the path of the ceremony plan (YAML)")
		}
		return nil, err
	}
	return ParsePlan(raw, filepath.Dir(path))
}

// ParsePlan decodes plan bytes; dir is where relative paths start.
func ParsePlan(raw []byte, dir string) (*Plan, error) {
	var p Plan
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Unchanged("the plan is empty", "see testdata/plans for examples")
		}
		return nil, decodeError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, planErr("more than one YAML document in the plan\nhint: a plan is one document; remove the extra '---'")
	}
	sum := sha256.Sum256(raw)
	p.sum = hex.EncodeToString(sum[:])
	p.raw = raw
	p.dir = dir
	if err := p.validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// generates says whether the ceremony makes its keys: a generate or a rotation.
func (p *Plan) generates() bool { return p.Kind == KindGenerate || p.Kind == KindRotate }

// restores says whether the ceremony opens a backup and restores the key into the token: a
// restore, or a rewrap (re-import) that names the backup instead of a key kept in the token.
func (p *Plan) restores() bool {
	return p.Kind == KindRestore || p.Kind == KindRewrap && p.Restore != nil
}

// SHA256 is the hex SHA-256 of the plan file.
func (p *Plan) SHA256() string { return p.sum }

// KeySpec is the planned key's type.
func (p *Plan) KeySpec() hsmspec.KeySpec { return p.spec }

// Path resolves a path written in the plan.
func (p *Plan) Path(rel string) string {
	if rel == "" || filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(p.dir, rel)
}

// OutputDir is the resolved output folder.
func (p *Plan) OutputDir() string {
	if p.out != "" {
		return p.out
	}
	return p.Path(p.Output)
}

// HandoutsDir is the resolved folder share files are written to, beside the output folder
// unless the plan names one; "" when the plan makes no share set.
func (p *Plan) HandoutsDir() string {
	switch {
	case p.Backup == nil:
		return ""
	case p.Backup.Handouts != "":
		return p.Path(p.Backup.Handouts)
	}
	return filepath.Clean(p.OutputDir()) + "-handouts"
}

// within reports whether path is dir or inside it, comparing absolute paths.
func within(path, dir string) bool {
	a, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return true // cannot tell: the caller refuses
	}
	rel, err := filepath.Rel(d, a)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// planErr is a refusal of the plan, which is checked in full before any file or token is touched:
// nothing was changed.
func planErr(format string, args ...any) error {
	what, hint, _ := strings.Cut(fmt.Sprintf(format, args...), "\nhint: ")
	return errs.Unchanged("plan: "+what, hint)
}

// validate checks what the plan says about itself, before any file or token is looked at.
func (p *Plan) validate() error {
	if p.Version != 1 {
		return planErr("version is %d, want 1\nhint: add 'version: 1' at the top of the plan", p.Version)
	}
	switch p.Kind {
	case KindGenerate, KindRotate, KindRestore, KindReshare, KindRewrap, KindCheckIn:
	case "":
		return planErr("kind is missing\nhint: set kind to generate, rotate, restore, reshare, rewrap or check-in")
	default:
		return planErr("kind %q is unknown\nhint: set kind to generate, rotate, restore, reshare, rewrap or check-in", p.Kind)
	}
	if !ceremonyID.MatchString(p.Ceremony) {
		return planErr("ceremony %q is not a valid id\nhint: use lowercase letters, digits, '.', '_' and '-', up to 63 characters, e.g. acme-root-2026", p.Ceremony)
	}
	if p.Kind == KindCheckIn {
		return p.validateCheckIn()
	}
	if p.CheckIn != nil {
		return planErr("check_in is for kind: check-in plans\nhint: remove it, or set kind: check-in")
	}
	if p.Token.Module == "" {
		return planErr("token.module is missing\nhint: give the PKCS#11 module path, e.g. /usr/lib/softhsm/libsofthsm2.so")
	}
	if p.Token.Token == "" {
		return planErr("token.token is missing\nhint: give the token label or a pkcs11: URI")
	}
	if strings.Contains(strings.ToLower(p.Token.Token), "pin-value") || strings.Contains(strings.ToLower(p.Token.Token), "pin-source") {
		return planErr("token.token carries a PIN; PINs never go in a plan\nhint: remove pin-value/pin-source; the PIN is asked at the terminal or read from --pin-env/--pin-file")
	}
	if len(p.Keys) > 0 {
		if err := p.validateKeys(); err != nil {
			return err
		}
	} else if err := p.validateKey(); err != nil {
		return err
	}
	if p.Output == "" {
		return planErr("output is missing\nhint: name a folder that does not exist yet; the ceremony creates it")
	}
	if _, err := p.expiryMargin(); err != nil {
		return err
	}
	if err := p.validateParticipants(); err != nil {
		return err
	}
	if err := p.validateCosign(); err != nil {
		return err
	}
	if err := p.validateRotates(); err != nil {
		return err
	}
	switch {
	case p.generates():
		if p.Backup == nil {
			return planErr("a generate ceremony needs a backup section\nhint: a key nobody can restore is a key you will lose; add backup: threshold and custodians")
		}
		if p.Restore != nil {
			return planErr("a %s ceremony has no restore section\nhint: remove it, or set kind: restore", p.Kind)
		}
	case p.Kind == KindRestore:
		if p.Restore == nil {
			return planErr("a restore ceremony needs a restore section naming the backup manifest and blob")
		}
		if p.Backup != nil {
			return planErr("a restore ceremony has no backup section\nhint: to issue new shares use kind: reshare")
		}
	case p.Kind == KindReshare:
		if p.Restore == nil || p.Backup == nil {
			return planErr("a reshare ceremony needs a restore section (the old backup) and a backup section (the new roster)")
		}
		if len(p.Targets) > 0 {
			return planErr("a reshare ceremony wraps no targets\nhint: remove targets, or run a rewrap ceremony afterwards")
		}
	case p.Kind == KindRewrap:
		if len(p.Targets) == 0 {
			return planErr("a rewrap ceremony needs at least one target")
		}
		if p.Backup != nil {
			return planErr("a rewrap ceremony has no backup section\nhint: it wraps a key kept in the token, or one a quorum restores (restore section); to issue new shares use kind: reshare")
		}
	}
	if p.Restore != nil {
		if p.Restore.Manifest == "" || p.Restore.Blob == "" {
			return planErr("restore needs both manifest and blob\nhint: they are in the backup folder of the ceremony that made the backup")
		}
		if len(p.Restore.Ceremonies) == 0 {
			return planErr("restore.ceremonies is missing\nhint: name the folders of this key's ceremonies (the one that made the backup and every re-share since): their transcripts say whether the set is current")
		}
	}
	if p.Backup != nil {
		if err := p.validateBackup(); err != nil {
			return err
		}
	}
	p.groupChecks()
	return p.validateCustody()
}

// validateKey checks the one key of a plan without keys.
func (p *Plan) validateKey() error {
	if p.Key.Label == "" {
		return planErr("key.label is missing\nhint: name the key, e.g. acme-data-2026")
	}
	if p.Kind != KindReshare {
		if p.Key.Type == "" {
			return planErr("key.type is missing\nhint: one of " + hsmspec.KeyTypes)
		}
		spec, err := hsmspec.ParseKeySpec(p.Key.Type)
		if err != nil {
			return planErr("key.type: %v", err)
		}
		p.spec = spec
	}
	if len(p.Key.Targets) > 0 {
		return planErr("key.targets is for plans with keys\nhint: list a single key's targets at the top level, under targets")
	}
	if p.Backup != nil && p.Backup.Sets != "" {
		return planErr("backup.sets is for plans with keys\nhint: a plan with one key has one share set; remove backup.sets")
	}
	return validateTargetNames("targets", p.Targets)
}

// validateKeys checks the keys of a plan that makes several, and gathers their targets into
// the plan's, each named LABEL/TARGET.
func (p *Plan) validateKeys() error {
	switch {
	case p.Key.Label != "" || p.Key.Type != "" || len(p.Key.Targets) > 0:
		return planErr("the plan has both key and keys\nhint: list every key under keys, or make one key with key and targets")
	case len(p.Targets) > 0:
		return planErr("in a plan with keys, each key names its own targets\nhint: move the top-level targets under the keys they are for")
	case !p.generates():
		return planErr("keys is for generate and rotate ceremonies\nhint: a %s ceremony works on one key; name it with key", p.Kind)
	}
	if p.Backup != nil {
		switch p.Backup.Sets {
		case "", SetsShared, SetsPerKey:
		default:
			return planErr("backup.sets is %q\nhint: shared (one share set for every key) or per-key (a share set for each key)", p.Backup.Sets)
		}
		if p.Backup.Sets == SetsPerKey && p.Custody.BackupKey == CustodyKeep {
			return planErr("custody.backup_key: keep keeps one backup key, and backup.sets: per-key makes one per key\nhint: use backup.sets: shared, or do not keep the backup key")
		}
	}
	p.targetSpec = map[string]hsmspec.KeySpec{}
	labels := map[string]bool{}
	for i, k := range p.Keys {
		switch {
		case k.Label == "":
			return planErr("keys[%d] has no label\nhint: name each key, e.g. acme-data-2026", i)
		case !ceremonyID.MatchString(k.Label):
			return planErr("key label %q is not a valid folder name\nhint: in a plan with keys, a key's label names its folders; use lowercase letters, digits, '.', '_' and '-'", k.Label)
		case labels[k.Label]:
			return planErr("two keys are labelled %q\nhint: give each key its own label", k.Label)
		case k.Type == "":
			return planErr("key %q has no type\nhint: one of "+hsmspec.KeyTypes, k.Label)
		}
		labels[k.Label] = true
		spec, err := hsmspec.ParseKeySpec(k.Type)
		if err != nil {
			return planErr("key %q: type: %v", k.Label, err)
		}
		if err := validateTargetNames(fmt.Sprintf("key %q: targets", k.Label), k.Targets); err != nil {
			return err
		}
		for _, t := range k.Targets {
			t.Name = k.Label + "/" + t.Name
			p.Targets = append(p.Targets, t)
			p.targetSpec[t.Name] = spec
		}
	}
	return nil
}

// validateTargetNames checks the names of a list of targets, which become folders.
func validateTargetNames(field string, targets []wrap.Target) error {
	names := map[string]bool{}
	for i, t := range targets {
		if t.Name == "" {
			return planErr("%s[%d] has no name\nhint: name each target, e.g. aws-prod", field, i)
		}
		if names[t.Name] {
			return planErr("two targets are named %q\nhint: give each target its own name; it becomes a folder", t.Name)
		}
		if !ceremonyID.MatchString(t.Name) {
			return planErr("target name %q is not a valid folder name\nhint: use lowercase letters, digits, '.', '_' and '-'", t.Name)
		}
		names[t.Name] = true
	}
	return nil
}

// Views are the plan as the steps about each of its keys see it: the plan itself for a plan of
// one key; for a keys: plan, one copy per key whose Key, spec and Targets are that key's and whose
// scope is its label.
func (p *Plan) Views() []*Plan {
	if len(p.Keys) == 0 {
		return []*Plan{p}
	}
	views := make([]*Plan, len(p.Keys))
	for i, k := range p.Keys {
		views[i] = p.view(k.Label)
	}
	return views
}

// view is the plan as the steps about the key labelled label see it.
func (p *Plan) view(label string) *Plan {
	v := *p
	v.Keys, v.scope, v.Targets = nil, label, nil
	for _, k := range p.Keys {
		if k.Label == label {
			v.Key = k
			v.spec, _ = hsmspec.ParseKeySpec(k.Type) // validate parsed it
		}
	}
	for _, t := range p.Targets {
		if scope, _, _ := strings.Cut(t.Name, "/"); scope == label {
			v.Targets = append(v.Targets, t)
		}
	}
	return &v
}

// groupChecks fills checkedBy: targets that take their import parameters from the same files
// (a GCP import job, an Azure KEK, a Vault or OCI wrapping key many keys share) have them
// checked and pinned once, by the first of them.
func (p *Plan) groupChecks() {
	p.checkedBy = map[string]string{}
	first := map[[4]string]string{}
	for _, t := range p.Targets {
		in := [4]string{t.Profile, t.Params, t.PublicKey, t.ImportToken}
		if _, ok := first[in]; !ok {
			first[in] = t.Name
		}
		p.checkedBy[t.Name] = first[in]
	}
}

// CheckedTargets are the targets whose wrapping key a witness checks: one per set of import
// parameter files (see checkedBy). A reshare wraps nothing and checks none.
func (p *Plan) CheckedTargets() []wrap.Target {
	var checked []wrap.Target
	for _, t := range p.Targets {
		if p.Kind != KindReshare && p.checkedBy[t.Name] == t.Name {
			checked = append(checked, t)
		}
	}
	return checked
}

// checkStep is the step that checks target t's wrapping key (see checkedBy).
func (p *Plan) checkStep(t wrap.Target) string {
	return stepCheckWrapKey + ":" + p.checkedBy[t.Name]
}

// sharing lists the other targets whose wrapping key the check of target t checks.
func (p *Plan) sharing(t wrap.Target) []string {
	var others []string
	for _, o := range p.Targets {
		if o.Name != t.Name && p.checkedBy[o.Name] == t.Name {
			others = append(others, o.Name)
		}
	}
	return others
}

// specFor is the type of the key target t wraps.
func (p *Plan) specFor(t wrap.Target) hsmspec.KeySpec {
	if s, ok := p.targetSpec[t.Name]; ok {
		return s
	}
	return p.spec
}

// scopeOf is the label of the key a keys: plan's target is for; "" in a plan with one key.
func (p *Plan) scopeOf(t wrap.Target) string {
	if len(p.Keys) == 0 {
		return ""
	}
	scope, _, _ := strings.Cut(t.Name, "/")
	return scope
}

// keyStepID is the id of a step about the plan's key: the step itself in a plan with one
// key, step:LABEL in a view of a keys: plan.
func (p *Plan) keyStepID(step string) string {
	if p.scope == "" {
		return step
	}
	return step + ":" + p.scope
}

func (p *Plan) validateParticipants() error {
	has := map[string]bool{}
	seen := map[string]bool{}
	for _, a := range p.Participants {
		switch a.Role {
		case RoleAdministrator, RoleSecurityOfficer, RoleWitness:
		case RoleCustodian:
			return planErr("participant %q: custodians are named in the backup section, not as participants", a.Name)
		default:
			return planErr("participant %q has role %q\nhint: roles are administrator, security-officer and witness", a.Name, a.Role)
		}
		if strings.TrimSpace(a.Name) == "" {
			return planErr("a participant with role %s has no name", a.Role)
		}
		key := a.Role + "/" + a.Name
		if seen[key] {
			return planErr("participant %q is listed twice as %s", a.Name, a.Role)
		}
		seen[key] = true
		has[a.Role] = true
	}
	if !has[RoleAdministrator] {
		return planErr("no ceremony administrator among the participants\nhint: add a participant with role: administrator")
	}
	if !has[RoleWitness] {
		return planErr("no witness among the participants\nhint: a ceremony needs at least one witness to check what the screen shows")
	}
	return nil
}

func (p *Plan) validateBackup() error {
	b := p.Backup
	n := len(b.Custodians)
	limit := 16
	if b.AllowLarge {
		limit = 255
	}
	switch {
	case b.Threshold < 2:
		return planErr("backup.threshold is %d; at least 2 custodians must be needed to restore\nhint: set threshold to 2 or more", b.Threshold)
	case n < b.Threshold:
		return planErr("backup.threshold is %d but only %d custodians are named\nhint: name at least as many custodians as the threshold", b.Threshold, n)
	case n > limit && !b.AllowLarge:
		return planErr("backup names %d custodians; more than 16 needs allow_large: true", n)
	case n > limit:
		return planErr("backup names %d custodians; Shamir over GF(2^8) allows at most 255", n)
	case b.AllowWeakerWrap != "" && b.AllowWeakerWrap != hsmspec.BackupCBCPad:
		return planErr("backup.allow_weaker_wrap is %q\nhint: the only weaker backup wrapping mechanism is %s", b.AllowWeakerWrap, hsmspec.BackupCBCPad)
	}
	if within(p.HandoutsDir(), p.OutputDir()) {
		return planErr("backup.handouts %s is inside the ceremony folder %s\nhint: share files are handed out, never part of the record; name a folder outside the output, e.g. removable media", p.HandoutsDir(), p.OutputDir())
	}
	seen := map[string]bool{}
	holder := map[string]string{} // recipient key -> the custodian it was first given for
	for i, c := range b.Custodians {
		name := strings.TrimSpace(c.Name)
		if name == "" {
			return planErr("backup.custodians[%d] has no name", i)
		}
		if seen[strings.ToLower(name)] {
			return planErr("custodian %q is named twice\nhint: each custodian holds one share", name)
		}
		seen[strings.ToLower(name)] = true
		switch c.Passphrase {
		case "", PassphraseGenerated:
		case PassphraseChosen:
			if c.Delivery != DeliveryAgePassphrase {
				return planErr("custodian %q: passphrase is only for delivery age-passphrase", name)
			}
		default:
			return planErr("custodian %q has passphrase %q\nhint: generated (the default: the tool makes it) or chosen (the custodian types one as strong)", name, c.Passphrase)
		}
		switch c.Delivery {
		case DeliveryTyped, DeliveryQR, DeliveryAgePassphrase, DeliveryPrint:
			if c.Recipient != "" {
				return planErr("custodian %q: recipient is only for delivery age-recipient", name)
			}
		case DeliveryAgeRecipient:
			if c.Recipient == "" {
				return planErr("custodian %q: delivery age-recipient needs a recipient (age1... or an SSH public key)", name)
			}
			key, err := backup.RecipientKey(c.Recipient)
			if err != nil {
				return planErr("custodian %q: %s", name, err)
			}
			// One person holding two shares holds a whole quorum at threshold 2.
			if other, ok := holder[key]; ok {
				return planErr("custodians %q and %q have the same recipient key\nhint: each custodian holds one share; give each their own age or SSH public key", other, name)
			}
			holder[key] = name
		case "":
			return planErr("custodian %q has no delivery\nhint: typed, qr, print, age-passphrase or age-recipient", name)
		default:
			return planErr("custodian %q has delivery %q\nhint: typed, qr, print, age-passphrase or age-recipient", name, c.Delivery)
		}
	}
	return nil
}

// Check validates everything outside the plan that can be checked before the ceremony: the output
// folder does not exist, the module file is a PKCS#11 library, the backup files and every
// target's import parameters exist, parse and have not expired. It returns warnings to show.
func (p *Plan) Check(now time.Time) (warnings []string, err error) {
	if _, err := os.Lstat(p.OutputDir()); err == nil {
		return nil, errs.Unchanged("output folder "+p.OutputDir()+" already exists", "a ceremony writes into a new folder; choose another output, or resume with 'keyceremony run --resume "+p.OutputDir()+"'")
	}
	if _, err := os.Stat(p.Path(p.Token.Module)); err != nil {
		return nil, fmt.Errorf("PKCS#11 module %s does not exist\nhint: install the HSM vendor's client, or for rehearsal run scripts/setup (SoftHSM2)", p.Path(p.Token.Module))
	}
	if p.Restore != nil {
		for _, f := range []string{p.Restore.Manifest, p.Restore.Blob} {
			if _, err := os.Stat(p.Path(f)); err != nil {
				return nil, fmt.Errorf("backup file %s does not exist\nhint: copy the backup folder of the original ceremony to this machine", p.Path(f))
			}
		}
		raw, err := os.ReadFile(p.Path(p.Restore.Manifest))
		if err != nil {
			return nil, err
		}
		m, _, exception, err := p.checkOldSet(raw)
		if err != nil {
			return nil, err
		}
		if _, err := p.setSiblings(m); err != nil {
			return nil, err
		}
		if exception != "" {
			warnings = append(warnings, exception)
		}
		if w := p.otherLabel(m); w != "" {
			warnings = append(warnings, w)
		}
	}
	if h := p.HandoutsDir(); h != "" {
		if target, err := os.Readlink(h); err == nil {
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(h), target)
			}
			if within(target, p.OutputDir()) {
				return nil, fmt.Errorf("handouts folder %s leads to %s, inside the ceremony folder\nhint: share files are handed out, never part of the record; name a folder outside the output in backup.handouts", h, target)
			}
		}
		if st, err := os.Stat(h); err == nil && !st.IsDir() {
			return nil, fmt.Errorf("handouts folder %s is not a folder\nhint: name a folder for the share files in backup.handouts", h)
		} else if err != nil {
			if _, err := os.Stat(filepath.Dir(h)); err != nil {
				return nil, fmt.Errorf("the folder %s that would hold the handouts folder does not exist\nhint: mount the removable medium, or create it", filepath.Dir(h))
			}
		}
	}
	into := map[string]string{} // the cloud key each target imports into -> the first target
	for _, t := range p.Targets {
		w, dest, err := p.checkTarget(t, now)
		if err != nil {
			return nil, err
		}
		warnings = append(warnings, w...)
		if other, ok := into[dest]; ok && dest != "" && p.Kind != KindReshare {
			return nil, planErr("targets %s and %s both import into %s; a cloud key takes one key's material\nhint: give each key its own cloud key (for AWS, its own KMS key and import parameters)", other, t.Name, dest)
		}
		into[dest] = t.Name
	}
	return warnings, p.checkRotations()
}

// checkOldSet reads what the plan's restore.ceremonies record of the set of manifest: an error
// for a set that is void, unsealed or superseded (unless allowed), and the exception to record
// when a superseded set is allowed.
func (p *Plan) checkOldSet(manifest []byte) (*backup.Manifest, setStatus, string, error) {
	m, err := backup.ParseManifest(manifest)
	if err != nil {
		return nil, setStatus{}, "", err
	}
	dirs := make([]string, len(p.Restore.Ceremonies))
	for i, d := range p.Restore.Ceremonies {
		dirs[i] = p.Path(d)
	}
	st, err := readSetStatus(manifest, m, dirs, "restore.ceremonies")
	if err != nil {
		return nil, st, "", err
	}
	refusal, exception := st.superseded(p.Restore.AllowSuperseded)
	return m, st, exception, refusal
}

// otherLabel says, for a restore, when the manifest backs up a key of another label than the
// plan's: restoring beside a key of that label is allowed, and naming the wrong key's manifest
// (all of a shared set's have the same file name) is the slip it could be.
func (p *Plan) otherLabel(m *backup.Manifest) string {
	if !p.restores() || m.Key.Label == p.Key.Label {
		return ""
	}
	return fmt.Sprintf("the backup manifest is of key %q; it is restored under the plan's label %q", m.Key.Label, p.Key.Label)
}

// oldKey is a backed-up key a re-share opens besides the one the plan names: another key of a
// set shared by several keys, read from the set's folder.
type oldKey struct {
	label, manifest, blob string // the label, and the paths of its manifest and blob
	raw, blobData         []byte
	m                     *backup.Manifest
}

// setSiblings reads, for a re-share of a set shared by several keys, every other key's manifest
// and blob from the set's folder (backup-SET/LABEL/), each checked against the verified
// ceremonies like the plan's own: a re-share carries every key of the set, or none would be
// left behind under the superseded set. A restore opens only the plan's key.
func (p *Plan) setSiblings(m *backup.Manifest) ([]oldKey, error) {
	if p.Kind != KindReshare || len(m.SharedWith) == 0 {
		return nil, nil
	}
	setDir := filepath.Dir(filepath.Dir(p.Path(p.Restore.Manifest)))
	var others []oldKey
	for _, label := range m.SharedWith {
		if label == m.Key.Label {
			continue
		}
		k := oldKey{label: label, manifest: filepath.Join(setDir, label, backup.ManifestFile), blob: filepath.Join(setDir, label, backup.BlobFile)}
		var err error
		if k.raw, err = os.ReadFile(k.manifest); err == nil {
			k.blobData, err = os.ReadFile(k.blob)
		}
		if err != nil {
			return nil, fmt.Errorf("backup set %s backs up key %q too, and a re-share carries every key of its set, but %v\nhint: keep the set's folder whole: each key's manifest and blob in %s", m.SetID, label, err, filepath.Join(setDir, "LABEL"))
		}
		if k.m, _, _, err = p.checkOldSet(k.raw); err != nil {
			return nil, err
		}
		if k.m.SetID != m.SetID || k.m.Key.Label != label {
			return nil, fmt.Errorf("%s is the manifest of key %q of set %s, not of key %q of set %s\nhint: keep the set's folder as the ceremony wrote it", k.manifest, k.m.Key.Label, k.m.SetID, label, m.SetID)
		}
		others = append(others, k)
	}
	return others, nil
}

// checkTarget loads a target's import parameters and checks them; it returns the warnings to
// show and the cloud key the target imports into (wrap.Params.CloudKey).
func (p *Plan) checkTarget(t wrap.Target, now time.Time) ([]string, string, error) {
	params, err := wrap.Load(t, p.dir)
	if err != nil {
		return nil, "", err
	}
	if p.Kind == KindReshare {
		return nil, "", nil
	}
	w, err := params.Validate(p.specFor(t), now)
	if err != nil {
		return nil, "", err
	}
	for i := range w {
		w[i] = "target " + t.Name + ": " + w[i]
	}
	return w, params.CloudKey(), nil
}

// sections names the plan's YAML sections by the Go type that decodes them, for errors.
var sections = map[string]reflect.Type{
	"the top level":     reflect.TypeFor[Plan](),
	"token":             reflect.TypeFor[TokenPlan](),
	"key":               reflect.TypeFor[KeyPlan](),
	"participants":      reflect.TypeFor[Actor](),
	"backup":            reflect.TypeFor[BackupPlan](),
	"backup.custodians": reflect.TypeFor[CustodianPlan](),
	"restore":           reflect.TypeFor[RestorePlan](),
	"check_in":          reflect.TypeFor[CheckInPlan](),
	"targets":           reflect.TypeFor[wrap.Target](),
	"custody":           reflect.TypeFor[CustodyPlan](),
}

var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+\.(\w+)$`)

// decodeError turns the YAML decoder's error into one line naming the line and the key, with
// the keys that section knows as the hint.
func decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		return planErr("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	first := te.Errors[0]
	m := unknownField.FindStringSubmatch(first)
	if m == nil {
		return planErr("%s", first)
	}
	for name, t := range sections {
		if t.Name() != m[3] {
			continue
		}
		var known []string
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
				known = append(known, tag)
			}
		}
		return planErr("line %s: unknown key %q in %s\nhint: the keys there are %s", m[1], m[2], name, strings.Join(known, ", "))
	}
	return planErr("line %s: unknown key %q", m[1], m[2])
}
