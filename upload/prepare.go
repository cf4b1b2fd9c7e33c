package upload

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyceremony/keyceremony/internal/atomicfile"
	"github.com/keyceremony/keyceremony/internal/readback"
	"github.com/keyceremony/keyceremony/internal/spki"
)

// PrepareOptions says which KMS key to fetch import parameters for, and where to write them.
type PrepareOptions struct {
	KeyID             string // an existing KMS key of origin EXTERNAL; or empty with Create
	Create            bool   // create a symmetric encryption KMS key of origin EXTERNAL first
	Description       string // the created key's description (Create only)
	WrappingAlgorithm string // RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256
	WrappingKeySpec   string // RSA_2048, RSA_3072 or RSA_4096
	Out               string // the import parameters file to write; it must not exist
}

// PrepareResult is what Prepare fetched and wrote.
type PrepareResult struct {
	KeyID             string // the key ARN, as GetParametersForImport returned it
	Created           bool
	WrappingAlgorithm string
	WrappingKeySpec   string
	ParametersValidTo time.Time
	// Fingerprint is "SHA256:<hex>" of the wrapping public key's SPKI DER, as the ceremony shows it
	// for the two-person check; ReadBack is its read-back form (internal/readback), which a witness
	// types back at the ceremony.
	Fingerprint string
	ReadBack    string
	Out         string
}

// paramsFile is the import parameters file Prepare writes, fields in the aws CLI's order.
type paramsFile struct {
	KeyId             string
	ImportToken       []byte
	PublicKey         []byte
	ParametersValidTo json.Number
	WrappingAlgorithm string
	WrappingKeySpec   string
}

var wrappingKeyBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

var wrappingAlgorithms = []string{
	string(types.AlgorithmSpecRsaesOaepSha1),
	string(types.AlgorithmSpecRsaesOaepSha256),
	string(types.AlgorithmSpecRsaAesKeyWrapSha1),
	string(types.AlgorithmSpecRsaAesKeyWrapSha256),
}

func (o PrepareOptions) check() error {
	switch {
	case o.Create && o.KeyID != "":
		return errors.New("give either a key id or create, not both")
	case !o.Create && o.KeyID == "":
		return errors.New("no KMS key named\nhint: give --key-id of a KMS key of origin EXTERNAL, or --create to make one")
	case !o.Create && o.Description != "":
		return errors.New("a description is only for a key being created\nhint: add --create, or drop --description")
	case o.Out == "":
		return errors.New("no output file named\nhint: give --out FILE for the import parameters")
	}
	if !slices.Contains(wrappingAlgorithms, o.WrappingAlgorithm) {
		return fmt.Errorf("wrapping algorithm %q is not one keyceremony uses with AWS KMS\nhint: use one of %s", o.WrappingAlgorithm, strings.Join(wrappingAlgorithms, ", "))
	}
	if wrappingKeyBits[o.WrappingKeySpec] == 0 {
		return fmt.Errorf("wrapping key spec %q is not one keyceremony uses with AWS KMS\nhint: use RSA_2048, RSA_3072 or RSA_4096", o.WrappingKeySpec)
	}
	return nil
}

// Prepare fetches import parameters for the air-gapped ceremony: with Create it first makes a KMS key
// (CreateKey, Origin EXTERNAL, SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT), then it calls
// GetParametersForImport and writes opts.Out all at once: the JSON that
// `aws kms get-parameters-for-import --output json` prints, plus the algorithm and key spec:
//
//	{
//	    "KeyId": "arn:aws:kms:eu-west-2:111122223333:key/…",
//	    "ImportToken": "<standard base64>",
//	    "PublicKey": "<standard base64 of the SPKI DER>",
//	    "ParametersValidTo": 1795000000.123,
//	    "WrappingAlgorithm": "RSAES_OAEP_SHA_1",
//	    "WrappingKeySpec": "RSA_2048"
//	}
//
// ParametersValidTo is in epoch seconds, with milliseconds when there are any. It refuses an existing
// opts.Out before calling KMS.
func Prepare(ctx context.Context, client KMS, opts PrepareOptions) (*PrepareResult, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(opts.Out); err == nil {
		return nil, fmt.Errorf("%s already exists; prepare never replaces a file\nhint: give another --out, or move the old file away", opts.Out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Dir(opts.Out)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("the folder of %s does not exist\nhint: create it first", opts.Out)
	}

	res := &PrepareResult{KeyID: opts.KeyID, WrappingAlgorithm: opts.WrappingAlgorithm, WrappingKeySpec: opts.WrappingKeySpec, Out: opts.Out}
	if opts.Create {
		in := &kms.CreateKeyInput{
			Origin:   types.OriginTypeExternal,
			KeySpec:  types.KeySpecSymmetricDefault,
			KeyUsage: types.KeyUsageTypeEncryptDecrypt,
		}
		if opts.Description != "" {
			in.Description = aws.String(opts.Description)
		}
		out, err := client.CreateKey(ctx, in)
		if err != nil {
			return nil, explain("CreateKey", "", err)
		}
		if out.KeyMetadata == nil || out.KeyMetadata.Arn == nil {
			return nil, errors.New("CreateKey answered without a key ARN")
		}
		res.KeyID, res.Created = *out.KeyMetadata.Arn, true
	}
	// What to tell the user when the key exists but the parameters file could not be made.
	retry := ""
	if res.Created {
		retry = "\nhint: the KMS key " + res.KeyID + " was created; run prepare again with --key-id " + res.KeyID + " instead of --create"
	}

	out, err := client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{
		KeyId:             aws.String(res.KeyID),
		WrappingAlgorithm: types.AlgorithmSpec(opts.WrappingAlgorithm),
		WrappingKeySpec:   types.WrappingKeySpec(opts.WrappingKeySpec),
	})
	if err != nil {
		err := explain("GetParametersForImport", res.KeyID, err)
		if retry != "" {
			return nil, fmt.Errorf("%w%s", err, retry)
		}
		return nil, err
	}
	if out.KeyId != nil {
		res.KeyID = *out.KeyId
	}
	if len(out.ImportToken) == 0 || out.ParametersValidTo == nil {
		return nil, fmt.Errorf("GetParametersForImport answered without an import token or expiry%s", retry)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	rsaPub, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok || rsaPub.N.BitLen() != wrappingKeyBits[opts.WrappingKeySpec] {
		return nil, fmt.Errorf("GetParametersForImport answered with a public key that is not an %s SubjectPublicKeyInfo%s", opts.WrappingKeySpec, retry)
	}
	res.ParametersValidTo = out.ParametersValidTo.UTC()
	res.Fingerprint = spki.Fingerprint(out.PublicKey)
	res.ReadBack = readback.Format(res.Fingerprint)

	f := paramsFile{
		KeyId:             res.KeyID,
		ImportToken:       out.ImportToken,
		PublicKey:         out.PublicKey,
		ParametersValidTo: json.Number(strconv.FormatFloat(float64(res.ParametersValidTo.UnixMilli())/1000, 'f', -1, 64)),
		WrappingAlgorithm: opts.WrappingAlgorithm,
		WrappingKeySpec:   opts.WrappingKeySpec,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteOnce(opts.Out, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("%v%s", err, retry)
	}
	return res, nil
}

// Summary says what Prepare did and gives the wrapping key's fingerprint for the ceremony's
// two-person check.
func (r *PrepareResult) Summary() string {
	var b strings.Builder
	if r.Created {
		fmt.Fprintf(&b, "Created the KMS key %s (origin EXTERNAL, SYMMETRIC_DEFAULT), waiting for its key material.\n", r.KeyID)
	}
	fmt.Fprintf(&b, "Wrote the import parameters for %s to %s.\n", r.KeyID, r.Out)
	fmt.Fprintf(&b, "  wrapping     %s with an %s key\n", r.WrappingAlgorithm, r.WrappingKeySpec)
	fmt.Fprintf(&b, "  valid until  %s\n", r.ParametersValidTo.Format(time.RFC3339))
	fmt.Fprintf(&b, "  fingerprint  %s\n", r.Fingerprint)
	fmt.Fprintf(&b, "  read back    %s\n", r.ReadBack)
	b.WriteString("Take the file to the ceremony; there, two people check that it shows this fingerprint.\n")
	return b.String()
}
