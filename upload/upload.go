package upload

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/version"
	"github.com/keyceremony/keyceremony/wrap"
)

// ReceiptFormat names the version of the upload receipt layout.
const ReceiptFormat = "keyceremony-upload-receipt/1"

// maxValidTo is how far ahead KMS accepts ImportKeyMaterial's ValidTo.
const maxValidTo = 365 * 24 * time.Hour

// Receipt is what Upload sent and what KMS answered, written next to the package as
// upload-receipt.json (upload-receipt-2.json for the second upload of the same package, and so on).
type Receipt struct {
	Format string `json:"format"`
	// Files holds the SHA-256 (hex) of the two files sent and of the package's manifest.json.
	Files    map[string]string `json:"files"`
	Key      wrap.ManifestKey  `json:"key"`
	Request  ReceiptRequest    `json:"request"`
	KMS      ReceiptKMS        `json:"kms"`
	Identity ReceiptIdentity   `json:"identity"`
	// FollowUp is the call a rotation's package makes after the import, and how it went.
	FollowUp *ReceiptFollowUp `json:"follow_up,omitempty"`
	Time     time.Time        `json:"time"`
	// Path is where the receipt was written.
	Path               string `json:"-"`
	KeyceremonyVersion string `json:"keyceremony_version"`
}

// ReceiptRequest is the ImportKeyMaterial request, without the two blobs.
type ReceiptRequest struct {
	KeyID             string     `json:"key_id"`
	WrappingAlgorithm string     `json:"wrapping_algorithm"`
	ExpirationModel   string     `json:"expiration_model"`
	ValidTo           *time.Time `json:"valid_to,omitempty"`
	// ImportType is NEW_KEY_MATERIAL for a rotation on demand; empty (KMS's default,
	// EXISTING_KEY_MATERIAL) otherwise.
	ImportType string `json:"import_type,omitempty"`
}

// ReceiptFollowUp is what a rotation's package asks of KMS after the import: RotateKeyOnDemand on
// the key (wrap.NewVersionAWSRotation), or UpdateAlias of Alias to it (wrap.NewVersionAWSAlias).
// Error is KMS's refusal, when it refused.
type ReceiptFollowUp struct {
	Call  string `json:"call"`
	KeyID string `json:"key_id"`
	Alias string `json:"alias,omitempty"`
	Error string `json:"error,omitempty"`
}

// ReceiptKMS is KMS's answer: ImportKeyMaterial's KeyId and KeyMaterialId (when it gives them), then
// the key as DescribeKey shows it after the import.
type ReceiptKMS struct {
	KeyID           string     `json:"key_id,omitempty"`
	KeyMaterialID   string     `json:"key_material_id,omitempty"`
	KeyARN          string     `json:"key_arn"`
	KeyState        string     `json:"key_state"`
	Enabled         bool       `json:"enabled"`
	ExpirationModel string     `json:"expiration_model,omitempty"`
	ValidTo         *time.Time `json:"valid_to,omitempty"`
}

// ReceiptIdentity is who uploaded, from STS GetCallerIdentity; ARN and Account are "unknown", and
// Error says why, when STS did not answer.
type ReceiptIdentity struct {
	ARN     string `json:"arn"`
	Account string `json:"account"`
	Error   string `json:"error,omitempty"`
}

// Run is `keyceremony upload DIR`: for an AWS package it makes clients from the standard AWS
// configuration chain (NewClients) and uploads (Upload), returning a summary of the receipt; for a
// package of another cloud it makes no call and returns Instructions.
func Run(ctx context.Context, dir string, rec Record, endpointURL, region string, now time.Time) (string, error) {
	m, err := readPackage(dir, rec)
	if err != nil {
		return "", err
	}
	if m.Profile != wrap.ProfileAWS {
		return Instructions(m), nil
	}
	u, err := loadAWS(dir, m, now)
	if err != nil {
		return "", err
	}
	client, stsClient, err := NewClients(ctx, endpointURL, region)
	if err != nil {
		return "", err
	}
	r, err := u.send(ctx, client, stsClient)
	if err != nil {
		return "", err
	}
	return r.Summary(), nil
}

// Upload imports the AWS import package in dir into KMS. Before any call it checks the manifest and
// the SHA-256 of every file (wrap.ReadManifest), and that the import parameters and ValidTo are still
// good at now. Then it calls ImportKeyMaterial (ExpirationModel always set, ValidTo in whole
// seconds), checks with DescribeKey that the key is Enabled, asks STS who it is, and writes the
// receipt next to the package, never over an earlier one. It refuses packages of other clouds.
func Upload(ctx context.Context, client KMS, stsClient STS, dir string, rec Record, now time.Time) (*Receipt, error) {
	m, err := readPackage(dir, rec)
	if err != nil {
		return nil, err
	}
	if m.Profile != wrap.ProfileAWS {
		return nil, fmt.Errorf("%s is a package for %s, which keyceremony does not upload itself\nhint: keyceremony upload %s prints the command to run and what to check after it", dir, wrap.CloudName(m.Profile), dir)
	}
	u, err := loadAWS(dir, m, now)
	if err != nil {
		return nil, err
	}
	return u.send(ctx, client, stsClient)
}

// readPackage checks an import package against its signed record, then reads and checks its
// manifest, files and profile.
func readPackage(dir string, rec Record) (*wrap.Manifest, error) {
	ceremony, err := verifyRecord(dir, rec)
	if err != nil {
		return nil, err
	}
	m, err := wrap.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	// The manifest is not signed: it only says which wrap event to look for (its target, or the
	// folder's name), and that event must name every file of the package, the manifest too.
	signed, err := signedFiles(ceremony, cmp.Or(m.Target, filepath.Base(dir)))
	if err != nil {
		return nil, err
	}
	if err := checkSigned(dir, m, signed); err != nil {
		return nil, err
	}
	if _, ok := clis[m.Profile]; !ok {
		return nil, fmt.Errorf("%s names the unknown profile %q\nhint: use the keyceremony version that wrote it", filepath.Join(dir, wrap.ManifestName), m.Profile)
	}
	return m, nil
}

// awsUpload is an AWS package checked and read, ready to send.
type awsUpload struct {
	dir             string
	receipt         Receipt
	material, token []byte
}

// loadAWS checks what ImportKeyMaterial will be given and reads it, so that nothing is sent that
// KMS must refuse, and what is sent is what the manifest lists.
func loadAWS(dir string, m *wrap.Manifest, now time.Time) (*awsUpload, error) {
	req, err := checkAWS(m, now)
	if err != nil {
		return nil, err
	}
	material, err := readListed(dir, m, wrap.AWSMaterialName)
	if err != nil {
		return nil, err
	}
	token, err := readListed(dir, m, wrap.AWSTokenName)
	if err != nil {
		return nil, err
	}
	manifestSum, err := wrap.FileSHA256(filepath.Join(dir, wrap.ManifestName))
	if err != nil {
		return nil, err
	}
	return &awsUpload{
		dir: dir,
		receipt: Receipt{
			Format: ReceiptFormat,
			Files: map[string]string{
				wrap.AWSMaterialName: m.Files[wrap.AWSMaterialName],
				wrap.AWSTokenName:    m.Files[wrap.AWSTokenName],
				wrap.ManifestName:    manifestSum,
			},
			Key:                m.Key,
			Request:            req,
			FollowUp:           followUpOf(m),
			Time:               now.UTC(),
			KeyceremonyVersion: version.Version,
		},
		material: material,
		token:    token,
	}, nil
}

// afterImport is a failed follow-up call: what KMS said (without its hint, which is about an import),
// what state that leaves, and the command that finishes the job.
func afterImport(err error, state, hint string) error {
	said, _, _ := strings.Cut(err.Error(), "\nhint: ")
	return &apiError{err: errors.Unwrap(err), msg: said + "\n" + state + "\nhint: " + hint}
}

// followUpOf is the call the package's new-version path makes after the import, or nil.
func followUpOf(m *wrap.Manifest) *ReceiptFollowUp {
	switch {
	case m.AWS.ImportType != "":
		return &ReceiptFollowUp{Call: "RotateKeyOnDemand", KeyID: m.AWS.KeyID}
	case m.AWS.Alias != "":
		return &ReceiptFollowUp{Call: "UpdateAlias", KeyID: m.AWS.KeyID, Alias: m.AWS.Alias}
	}
	return nil
}

// send imports the material, looks at the key, and writes the receipt.
func (u *awsUpload) send(ctx context.Context, client KMS, stsClient STS) (*Receipt, error) {
	r := u.receipt
	req := r.Request
	out, err := client.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{
		KeyId:                aws.String(req.KeyID),
		ImportToken:          u.token,
		EncryptedKeyMaterial: u.material,
		ExpirationModel:      types.ExpirationModelType(req.ExpirationModel),
		ValidTo:              req.ValidTo,
		ImportType:           types.ImportType(req.ImportType),
	})
	if err != nil {
		var incorrect *types.IncorrectKeyMaterialException
		if req.ImportType != "" && errors.As(err, &incorrect) {
			return nil, &apiError{err: err, msg: fmt.Sprintf("ImportKeyMaterial for %s failed: KMS compared the new key material with the material the key already holds, as for a re-import: the endpoint did not apply ImportType %s (local-kms does not implement it), or this material was imported into the key before (%s)\nhint: nothing was imported; upload to AWS KMS itself, or rotate onto a new KMS key behind the alias", req.KeyID, req.ImportType, serviceError(err))}
		}
		return nil, explain("ImportKeyMaterial", req.KeyID, err)
	}
	r.KMS.KeyID = aws.ToString(out.KeyId)
	r.KMS.KeyMaterialID = aws.ToString(out.KeyMaterialId)

	// The material is in KMS now: whatever the follow-up and DescribeKey say, the receipt
	// records the import.
	followErr := u.followUp(ctx, client, &r)
	var stateErr error
	desc, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(req.KeyID)})
	switch {
	case err != nil:
		r.KMS.KeyState = "unknown"
		stateErr = explain("DescribeKey", req.KeyID, err)
	case desc.KeyMetadata == nil:
		r.KMS.KeyState = "unknown"
		stateErr = errors.New("DescribeKey answered without key metadata")
	default:
		km := desc.KeyMetadata
		r.KMS.KeyARN = aws.ToString(km.Arn)
		r.KMS.KeyState = string(km.KeyState)
		r.KMS.Enabled = km.Enabled
		r.KMS.ExpirationModel = string(km.ExpirationModel)
		if km.ValidTo != nil {
			t := km.ValidTo.UTC()
			r.KMS.ValidTo = &t
		}
		if km.KeyState != types.KeyStateEnabled || !km.Enabled {
			stateErr = fmt.Errorf("KMS accepted the key material, but DescribeKey shows %s in state %s\nhint: look at it with aws kms describe-key --key-id %s", req.KeyID, km.KeyState, req.KeyID)
		}
	}
	r.Identity = callerIdentity(ctx, stsClient)

	if err := r.write(u.dir); err != nil {
		return nil, errors.Join(followErr, stateErr, err)
	}
	if err := errors.Join(followErr, stateErr); err != nil {
		return nil, fmt.Errorf("%w\nthe receipt is %s", err, r.Path)
	}
	return &r, nil
}

// followUp makes the call a rotation's package asks for after the import, and records it in r:
// RotateKeyOnDemand makes the material just imported (PENDING_ROTATION) current; UpdateAlias
// points the alias at the new KMS key.
func (u *awsUpload) followUp(ctx context.Context, client KMS, r *Receipt) error {
	if r.FollowUp == nil {
		return nil
	}
	f, keyID := r.FollowUp, r.Request.KeyID
	var err error
	switch f.Call {
	case "RotateKeyOnDemand":
		if _, err = client.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(keyID)}); err != nil {
			err = afterImport(explain("RotateKeyOnDemand", keyID, err), "the new key material is imported but not current (PENDING_ROTATION): the earlier material still encrypts",
				"run aws kms rotate-key-on-demand --key-id "+keyID)
		}
	case "UpdateAlias":
		if _, err = client.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String(f.Alias), TargetKeyId: aws.String(keyID)}); err != nil {
			err = afterImport(explain("UpdateAlias", f.Alias, err), "the new key is imported, but "+f.Alias+" still names the earlier KMS key",
				"run aws kms update-alias --alias-name "+f.Alias+" --target-key-id "+keyID)
		}
	}
	if err != nil {
		f.Error = err.Error()
	}
	return err
}

// checkAWS checks what ImportKeyMaterial will be given, so that nothing is sent that KMS must refuse.
func checkAWS(m *wrap.Manifest, now time.Time) (ReceiptRequest, error) {
	a := m.AWS
	switch {
	case a == nil || a.KeyID == "":
		return ReceiptRequest{}, errors.New("the manifest of this AWS package has no KMS key id\nhint: use the package as the ceremony wrote it")
	case m.ParametersValidTo.IsZero():
		return ReceiptRequest{}, errors.New("the manifest has no parameters_valid_to\nhint: use the package as the ceremony wrote it")
	case !m.ParametersValidTo.After(now):
		return ReceiptRequest{}, fmt.Errorf("the import parameters of this package expired at %s; KMS would refuse its import token\nhint: fetch new ones with keyceremony aws prepare --key-id %s, and wrap the key again under them", m.ParametersValidTo.UTC().Format(time.RFC3339), a.KeyID)
	}
	req := ReceiptRequest{KeyID: a.KeyID, WrappingAlgorithm: m.Algorithm, ExpirationModel: a.ExpirationModel, ImportType: a.ImportType}
	if err := checkNewVersion(m); err != nil {
		return ReceiptRequest{}, err
	}
	switch types.ExpirationModelType(a.ExpirationModel) {
	case types.ExpirationModelTypeKeyMaterialDoesNotExpire:
		if a.ValidTo != nil {
			return ReceiptRequest{}, errors.New("the manifest gives valid_to with KEY_MATERIAL_DOES_NOT_EXPIRE\nhint: use the package as the ceremony wrote it")
		}
	case types.ExpirationModelTypeKeyMaterialExpires:
		if a.ValidTo == nil {
			return ReceiptRequest{}, errors.New("the manifest gives KEY_MATERIAL_EXPIRES without valid_to\nhint: use the package as the ceremony wrote it")
		}
		validTo := a.ValidTo.UTC().Truncate(time.Second)
		if !validTo.After(now) {
			return ReceiptRequest{}, fmt.Errorf("the key material would expire at %s, which has passed\nhint: wrap the key again with a later expiry", validTo.Format(time.RFC3339))
		}
		if validTo.Sub(now) > maxValidTo {
			return ReceiptRequest{}, fmt.Errorf("the key material would expire at %s, more than 365 days from now, which KMS refuses\nhint: wrap the key again with an expiry within a year", validTo.Format(time.RFC3339))
		}
		req.ValidTo = &validTo
	default:
		return ReceiptRequest{}, fmt.Errorf("the manifest gives the expiration model %q\nhint: KMS knows KEY_MATERIAL_EXPIRES and KEY_MATERIAL_DOES_NOT_EXPIRE", a.ExpirationModel)
	}
	return req, nil
}

// checkNewVersion checks that the AWS import type and alias are the ones the package's
// new-version path calls for, so that the upload does what the signed package says.
func checkNewVersion(m *wrap.Manifest) error {
	path := ""
	if m.NewVersion != nil {
		path = m.NewVersion.Path
	}
	a := m.AWS
	rotation, alias := path == wrap.NewVersionAWSRotation, path == wrap.NewVersionAWSAlias
	switch {
	case path != "" && !rotation && !alias:
		return fmt.Errorf("the manifest gives the new-version path %q, which is not one of AWS KMS\nhint: use the package as the ceremony wrote it", path)
	case rotation != (a.ImportType == string(types.ImportTypeNewKeyMaterial)) || a.ImportType != "" && !rotation:
		return fmt.Errorf("the manifest gives ImportType %q with the new-version path %q\nhint: use the package as the ceremony wrote it", a.ImportType, path)
	case alias != (a.Alias != ""):
		return fmt.Errorf("the manifest gives alias %q with the new-version path %q\nhint: use the package as the ceremony wrote it", a.Alias, path)
	}
	return nil
}

// readListed reads a file the manifest lists and checks its bytes against the manifest once more,
// so what is sent is exactly what was checked.
func readListed(dir string, m *wrap.Manifest, name string) ([]byte, error) {
	want, ok := m.Files[name]
	if !ok {
		return nil, fmt.Errorf("the manifest does not list %s\nhint: use the package as the ceremony wrote it", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != want {
		return nil, fmt.Errorf("%s in %s changed while it was being read\nhint: do not upload it; take the package from the ceremony's output again", name, dir)
	}
	return b, nil
}

func callerIdentity(ctx context.Context, client STS) ReceiptIdentity {
	out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return ReceiptIdentity{ARN: "unknown", Account: "unknown", Error: err.Error()}
	}
	return ReceiptIdentity{ARN: aws.ToString(out.Arn), Account: aws.ToString(out.Account)}
}

// write writes the receipt as dir/upload-receipt.json, or the first of upload-receipt-2.json,
// upload-receipt-3.json... that does not exist yet.
func (r *Receipt) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	for n := 1; ; n++ {
		name := "upload-receipt.json"
		if n > 1 {
			name = "upload-receipt-" + strconv.Itoa(n) + ".json"
		}
		path := filepath.Join(dir, name)
		err := atomicfile.WriteOnce(path, b, 0o644)
		if errors.Is(err, atomicfile.ErrExists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("the key material was imported into %s, but the receipt could not be written: %v\nhint: record the upload by hand: the key, the time, and manifest.json's SHA-256 %s", r.Request.KeyID, err, r.Files[wrap.ManifestName])
		}
		r.Path = path
		return nil
	}
}

// Summary says in a few lines what was imported where, and where the receipt is.
func (r *Receipt) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Imported the key material of %s into %s.\n", keyDescription(r.Key), r.Request.KeyID)
	fmt.Fprintf(&b, "  key state    %s\n", r.KMS.KeyState)
	if r.KMS.KeyMaterialID != "" {
		fmt.Fprintf(&b, "  material     %s\n", r.KMS.KeyMaterialID)
	}
	if f := r.FollowUp; f != nil && f.Call == "RotateKeyOnDemand" {
		fmt.Fprintf(&b, "  rotation     imported with ImportType %s, then RotateKeyOnDemand: the new material becomes current\n", r.Request.ImportType)
	} else if f != nil {
		fmt.Fprintf(&b, "  alias        %s now names this key\n", f.Alias)
	}
	if r.Request.ValidTo != nil {
		fmt.Fprintf(&b, "  expires      %s\n", r.Request.ValidTo.Format(time.RFC3339))
	} else {
		b.WriteString("  expires      never\n")
	}
	if r.Identity.Error != "" {
		b.WriteString("  uploaded by  unknown: STS did not answer (the receipt says why)\n")
	} else {
		fmt.Fprintf(&b, "  uploaded by  %s\n", r.Identity.ARN)
	}
	fmt.Fprintf(&b, "  receipt      %s\n", r.Path)
	return b.String()
}
