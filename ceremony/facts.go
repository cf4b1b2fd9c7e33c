package ceremony

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/keyceremony/keyceremony/internal/machine"
	"github.com/keyceremony/keyceremony/wrap"
)

// The facts of each step's event, one type per step, as the engine writes them and the inventory,
// the review and the tests read them. docs/transcript-facts.md describes them for auditors. JSON
// names are part of the record: never rename one; a new fact gets a new name.

// BeginFacts are the ceremony's facts in the begin event (transcript.BeginFacts.Ceremony).
type BeginFacts struct {
	Ceremony           string `json:"ceremony"`
	Kind               string `json:"kind"`
	KeyceremonyVersion string `json:"keyceremony_version"`
	// KeyceremonyRevision is the VCS revision of the build ("not recorded" when unknown), and
	// KeyceremonyBuild its Go version and platform.
	KeyceremonyRevision string `json:"keyceremony_revision"`
	KeyceremonyBuild    string `json:"keyceremony_build"`
	// KeyceremonySHA256 is the hex SHA-256 of the running binary, to compare with the release's
	// SHA256SUMS; Machine is the machine it ran on.
	KeyceremonySHA256 string        `json:"keyceremony_sha256"`
	Machine           machine.Facts `json:"machine"`
	Token             TokenFacts    `json:"token"`
	Capabilities      string        `json:"capabilities"` // the probe's findings, one line
	Participants      []Actor       `json:"participants"`
	// Interaction is ModeGuided, ModeLine or ModeHeadless: whether people were asked at all.
	Interaction string `json:"interaction"`
	// SigningKeyReused is set when the signing key was made before an interruption that came
	// before the first event.
	SigningKeyReused string `json:"signing_key_reused,omitempty"`
}

// TokenFacts describe the token the ceremony ran on.
type TokenFacts struct {
	Label        string `json:"label"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	Serial       string `json:"serial"`
	Firmware     string `json:"firmware"`
	// ModuleSHA256 is the hex SHA-256 of the PKCS#11 module file the plan names.
	ModuleSHA256 string `json:"module_sha256"`
}

// How a check was confirmed, as the transcript records it.
const (
	ConfirmedTypedBack = "typed-back" // the named person typed back the fingerprint read aloud
	ConfirmedTypedYes  = "typed-yes"  // the named person typed yes
	ConfirmedHeadless  = "headless"   // nobody: the run was headless (--yes)
)

// Confirmation is who confirmed a check and how: ConfirmedTypedBack, ConfirmedTypedYes or
// ConfirmedHeadless.
type Confirmation struct {
	By  Actor  `json:"by"`
	How string `json:"how"`
}

// SigningKeyCheckedFacts: a witness checked the ceremony signing key (step signing-key-checked,
// on every run of the ceremony).
type SigningKeyCheckedFacts struct {
	Fingerprint string       `json:"fingerprint"`
	Confirmed   Confirmation `json:"confirmed"`
}

// PinnedInput is an input file as the event that checked it records it.
type PinnedInput struct {
	Source string `json:"source"` // where it was read, as the plan names it
	SHA256 string `json:"sha256"` // of its bytes, hex
	Copy   string `json:"copy"`   // the copy in the record, relative to the ceremony folder
}

// CheckWrappingKeyFacts: a witness checked a target's wrapping key (step check-wrapping-key:NAME).
type CheckWrappingKeyFacts struct {
	// Key is the label of the key the target is for, in a plan of several keys (keys:); "" in a
	// plan of one key.
	Key    string `json:"key,omitempty"`
	Target string `json:"target"`
	// AlsoFor are the other targets that take their import parameters from the same files, checked
	// and pinned by this step once for all.
	AlsoFor                []string               `json:"also_for,omitempty"`
	Profile                string                 `json:"profile"`
	Algorithm              string                 `json:"algorithm"`
	WrappingKeyFingerprint string                 `json:"wrapping_key_fingerprint"`
	Confirmed              Confirmation           `json:"confirmed"`
	Inputs                 map[string]PinnedInput `json:"inputs"` // by the target's field: params, public_key, import_token
	ParametersValidTo      time.Time              `json:"parameters_valid_to,omitzero"`
	// Attestation is the import job's HSM attestation check (gcp targets with an HSM job): the
	// policy, the pinned roots, the chains' certificates, the attested attributes and the verdict.
	Attestation *wrap.AttestationFacts `json:"attestation,omitempty"`
}

// intentPrefix starts the step id of an intent event: before a step creates something (a key, a
// share set, an import package) it records what exactly, so that a resumed ceremony adopts only
// that object and refuses anything else found in its place.
const intentPrefix = "intent:"

// Intent is what an intent event (step intent:STEP) records before STEP creates it.
type Intent struct {
	// Keys are the keys about to be made (intent:generate-key): every key of the plan not made
	// yet, recorded once before the first of them.
	Keys  []KeyIntent `json:"keys,omitempty"`
	SetID string      `json:"set_id,omitempty"` // the share set (intent:backup)
	// Packages are the import packages' folders in the record (intent:wrap): every package the
	// ceremony has yet to write, recorded once before the first of them.
	Packages []string `json:"packages,omitempty"`
}

// KeyIntent is a key about to be made.
type KeyIntent struct {
	Label string `json:"label"`  // its CKA_LABEL
	CKAID string `json:"cka_id"` // its CKA_ID, hex
}

// KeyFacts describe the target key without revealing it (steps generate-key, find-key,
// restore-key).
type KeyFacts struct {
	Label       string `json:"label"`
	Spec        string `json:"spec"`
	ID          string `json:"id"` // CKA_ID, hex
	KCV         string `json:"kcv,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Attributes are the key's security attributes by their PKCS#11 names, as the token reports them.
	Attributes               map[string]bool `json:"attributes"`
	AdoptedAfterInterruption bool            `json:"adopted_after_interruption,omitempty"`
	BackupSet                string          `json:"backup_set,omitempty"` // restore-key: the set restored from
	// KCVConfirmed or FingerprintConfirmed: the witness typed the key's check value (secret keys)
	// or fingerprint (key pairs) back from the paper log (generate-key, restore-key).
	KCVConfirmed         *Confirmation `json:"kcv_confirmed,omitempty"`
	FingerprintConfirmed *Confirmation `json:"fingerprint_confirmed,omitempty"`
	// Rotates is, in a rotation (kind: rotate), the key this one replaces, as the verified
	// history showed it before the token was touched.
	Rotates *RotatedKeyFacts `json:"rotates,omitempty"`
}

// RotatedKeyFacts link a rotation's new key to the key it replaces: the old key as the verified
// transcripts of its ceremonies record it (ReadHistory, Find), and the folders read, each pinned
// by the SHA-256 of its signed checkpoint.
type RotatedKeyFacts struct {
	Label       string    `json:"label"`
	Spec        string    `json:"spec"`
	KCV         string    `json:"kcv,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Ceremony    string    `json:"ceremony"` // the ceremony that made it
	Folder      string    `json:"folder"`   // that ceremony's folder, as found under --history
	Made        time.Time `json:"made"`
	// CheckpointSHA256 is the hex SHA-256 of Folder's checkpoint as its seal wrote it: the
	// number the witnesses copied onto its paper log (lines cosigning adds later left out).
	CheckpointSHA256 string          `json:"checkpoint_sha256"`
	Targets          []RotatedTarget `json:"targets"`
	History          []HistoryFolder `json:"history"` // every folder read, pinned
}

// RotatedTarget is a target the old key was imported into: its latest package in the history.
type RotatedTarget struct {
	Name     string `json:"name"`
	Profile  string `json:"profile"`
	CloudKey string `json:"cloud_key"` // wrap.Manifest.CloudKey
	Ceremony string `json:"ceremony"`  // the ceremony that wrote the package
	Package  string `json:"package"`   // the package folder
	// ManifestSHA256 is the SHA-256 of the package's manifest.json, as its wrap event signed it.
	ManifestSHA256 string `json:"manifest_sha256"`
}

// HistoryFolder is a verified ceremony folder a rotation read, pinned by its checkpoint.
type HistoryFolder struct {
	Folder           string `json:"folder"`
	Ceremony         string `json:"ceremony"`
	CheckpointSHA256 string `json:"checkpoint_sha256"`
}

// CollectFacts: a quorum entered its shares (step collect-shares).
type CollectFacts struct {
	SetID     string                 `json:"set_id"`
	Accepted  []int                  `json:"accepted"` // share indexes
	Threshold int                    `json:"threshold"`
	Inputs    map[string]PinnedInput `json:"inputs"` // manifest and blob opened
	// Bags are the bag serials inspected before the shares were opened (backup.bags).
	Bags []BagInspection `json:"bags,omitempty"`
}

// HandoutFacts: a share was handed to its custodian (step handout:N).
type HandoutFacts struct {
	Custodian           string `json:"custodian"`
	Index               int    `json:"index"`
	Delivery            string `json:"delivery"`
	SetID               string `json:"set_id"`
	Commitment          string `json:"commitment"`
	HandoutFile         string `json:"handout_file,omitempty"`
	HandoutSHA256       string `json:"handout_sha256,omitempty"`
	Passphrase          string `json:"passphrase,omitempty"` // how it was made, never the passphrase
	PassphraseConfirmed string `json:"passphrase_confirmed,omitempty"`
	// Bag is the tamper-evident bag the share was sealed into, when the plan asks for bags
	// (backup.bags); restore and check-in compare its serial with what is typed then.
	Bag *BagFacts `json:"bag,omitempty"`
}

// BagFacts name a tamper-evident bag: its serial as typed from the bag, and who typed it (the
// custodian, or the witness for them).
type BagFacts struct {
	Serial  string       `json:"serial"`
	TypedBy Confirmation `json:"typed_by"`
}

// BagInspection is a bag serial typed again (at restore or check-in) and compared with the one
// its handout recorded. A mismatch is an exception the named witness acknowledges.
type BagInspection struct {
	Custodian    string        `json:"custodian"`
	Index        int           `json:"index"`
	Recorded     string        `json:"recorded"` // from the handout event
	Typed        string        `json:"typed"`
	TypedBy      Confirmation  `json:"typed_by"`
	Match        bool          `json:"match"`
	Acknowledged *Confirmation `json:"acknowledged,omitempty"` // the witness, for a mismatch
}

// VerifyShareFacts: a custodian proved their share reads back (step verify-share:N).
type VerifyShareFacts struct {
	Custodian string `json:"custodian"`
	Index     int    `json:"index"`
	SetID     string `json:"set_id"`
}

// BackupFacts: a share set was sealed (step backup).
type BackupFacts struct {
	// Keys are the keys of a set shared by several keys (backup.sets: shared in a plan of
	// several keys), one entry each; empty for a set of one key, which Label names.
	Keys         []BackedUpKey `json:"keys,omitempty"`
	SetID        string        `json:"set_id"`
	Threshold    int           `json:"threshold"`
	Custodians   []string      `json:"custodians"`
	BackupKeyKCV string        `json:"backup_key_kcv"`
	Replaces     string        `json:"replaces"` // the set it supersedes, or ""
	Label        string        `json:"label"`
	Spec         string        `json:"spec"`
	KCV          string        `json:"kcv"`
	Fingerprint  string        `json:"fingerprint"`
}

// BackedUpKey is one key of a shared share set, and its manifest in the set's folder.
type BackedUpKey struct {
	Label       string `json:"label"`
	Spec        string `json:"spec"`
	KCV         string `json:"kcv,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Manifest    string `json:"manifest"` // relative to the ceremony folder
}

// WrapFacts: an import package was written (step wrap:NAME).
type WrapFacts struct {
	// Key is the label of the key wrapped, in a plan of several keys (keys:); "" in a plan of
	// one key.
	Key                      string `json:"key,omitempty"`
	Target                   string `json:"target"`
	Profile                  string `json:"profile"`
	Algorithm                string `json:"algorithm"`
	AdoptedAfterInterruption bool   `json:"adopted_after_interruption,omitempty"`
	Strategy                 string `json:"strategy"`
	StrategyReason           string `json:"strategy_reason"`
	WrappingKeyFingerprint   string `json:"wrapping_key_fingerprint"`
	// NewVersion is, in a rotation, how the package makes the key a new version of the rotated
	// key's cloud key, and why that way.
	NewVersion *wrap.NewVersion `json:"new_version,omitempty"`
}

// SignOffFacts: the witness confirmed the closing summary copied onto the paper log, just before
// the seal (step sign-off).
type SignOffFacts struct {
	Summary   []string     `json:"summary"`
	Confirmed Confirmation `json:"confirmed"`
}

// ExceptionFacts are the facts of an exception event. An abort lists what was and was not done.
type ExceptionFacts struct {
	Exception string        `json:"exception"`
	Reason    string        `json:"reason,omitempty"`    // an abort: why, as the operator gave it
	Confirmed *Confirmation `json:"confirmed,omitempty"` // an abort: who confirmed it
	Done      []string      `json:"done,omitempty"`
	NotDone   []string      `json:"not_done,omitempty"`
	Removed   []string      `json:"removed,omitempty"`
}

// VoidSetFacts: a share set an interruption left unsealed was destroyed (step void-set:SETID).
type VoidSetFacts struct {
	SetID              string   `json:"set_id"`
	DeletedRecordFiles []string `json:"deleted_record_files"` // relative to the ceremony folder
	DeletedHandouts    []string `json:"deleted_handouts"`     // share files in the handouts folder
	Note               string   `json:"note"`                 // what custodians must do
}

// StepFacts returns a new value of the facts type of a step id (its part before ":"), or nil
// for a step that has none (no event is written under it). The custody steps' types are in
// custody.go.
func StepFacts(step string) any {
	id, _, _ := strings.Cut(step, ":")
	switch id {
	case stepSigningKeyChecked:
		return new(SigningKeyCheckedFacts)
	case stepCheckWrapKey:
		return new(CheckWrappingKeyFacts)
	case strings.TrimSuffix(intentPrefix, ":"):
		return new(Intent)
	case stepGenerateKey, stepFindKey, stepRestoreKey:
		return new(KeyFacts)
	case stepCollect:
		return new(CollectFacts)
	case stepHandout:
		return new(HandoutFacts)
	case stepVerifyShare:
		return new(VerifyShareFacts)
	case stepBackup:
		return new(BackupFacts)
	case stepWrap:
		return new(WrapFacts)
	case stepSignOff:
		return new(SignOffFacts)
	case stepVoid:
		return new(VoidSetFacts)
	case stepTrust:
		return new(TrustFacts)
	case stepDestroy:
		return new(DestroyFacts)
	case stepCustody:
		return new(CustodyFacts)
	case stepCheckInSet:
		return new(CheckInSetFacts)
	case stepCheckIn:
		return new(CheckInFacts)
	}
	return nil
}

// summarize is the one-line summary of a recorded step for the screen.
func summarize(step string, facts any) string {
	var m map[string]any
	b, _ := json.Marshal(facts)
	json.Unmarshal(b, &m)
	var parts []string
	for _, k := range []string{"kcv", "fingerprint", "custodian", "strategy", "target"} {
		if v, ok := m[k]; ok && v != "" {
			parts = append(parts, k+" "+toString(v))
		}
	}
	if len(parts) == 0 {
		return step
	}
	return step + ": " + strings.Join(parts, ", ")
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
