package upload

import (
	"errors"
	"fmt"
	"net/http"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

// apiError is a failed AWS call said in words: Error gives the sentence and the hint, Unwrap the SDK's
// error for errors.As.
type apiError struct {
	msg string
	err error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// explain turns an error from the AWS API operation op on keyID into a sentence saying what it
// means for the ceremony, KMS's own code and message in brackets, and a hint. Errors it has no words
// for keep the service's code and message, or the SDK's text.
func explain(op, keyID string, err error) error {
	var (
		incorrect *types.IncorrectKeyMaterialException
		expired   *types.ExpiredImportTokenException
		invalid   *types.InvalidImportTokenException
		state     *types.KMSInvalidStateException
		notFound  *types.NotFoundException
		cipher    *types.InvalidCiphertextException
	)
	what := op
	if keyID != "" {
		what += " for " + keyID
	}
	code := serviceError(err)
	var why, hint string
	switch {
	case notImplemented(err):
		return &apiError{err: err, msg: fmt.Sprintf("%s failed: the endpoint does not implement %s (HTTP 501)\nhint: an emulator lacks it; AWS KMS itself has it", what, op)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &apiError{err: err, msg: fmt.Sprintf("%s failed: nothing answers at the AWS endpoint (connection refused)\nhint: check --endpoint-url, or start the emulator first", what)}
	case errors.As(err, &incorrect):
		why = "the key material is not the one this KMS key already holds, or was wrapped for another import token"
		hint = "upload the package the ceremony made for this KMS key with these import parameters; once imported, a KMS key accepts only the same material again"
	case errors.As(err, &expired):
		why = "the import token has expired"
		hint = "fetch new import parameters with keyceremony aws prepare --key-id " + keyID + ", and wrap the key again under them"
	case errors.As(err, &invalid):
		why = "the import token is not valid for this KMS key: it was issued for another key, or altered"
		hint = "use the package wrapped under import parameters fetched for " + keyID
	case errors.As(err, &state):
		why = "the KMS key is not in a state that allows this: it may be disabled, pending deletion, or not of origin EXTERNAL"
		hint = "look at it with aws kms describe-key --key-id " + keyID
	case errors.As(err, &notFound):
		why = "KMS has no key " + keyID + " for these credentials in this region"
		hint = "check the region and account (AWS_REGION, AWS_PROFILE) against the key ARN"
	case errors.As(err, &cipher):
		why = "KMS could not unwrap the key material with the private key of this import token"
		hint = "the material was wrapped under another public key or algorithm than the import parameters name; wrap it again under them"
	case code != "":
		return &apiError{err: err, msg: fmt.Sprintf("%s failed: %s", what, code)}
	default:
		return &apiError{err: err, msg: fmt.Sprintf("%s failed: %v", what, err)}
	}
	return &apiError{err: err, msg: fmt.Sprintf("%s failed: %s (%s)\nhint: %s", what, why, code, hint)}
}

// notImplemented says whether the endpoint answered HTTP 501: it lacks the operation (local-kms
// answers so for RotateKeyOnDemand and ListKeyRotations).
func notImplemented(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented
}

// serviceError is the service's error code and, when it gives one, its message; "" for an error
// that did not come from the service.
func serviceError(err error) string {
	apiErr := smithy.APIError(nil)
	if !errors.As(err, &apiErr) {
		return ""
	}
	code := apiErr.ErrorCode()
	if m := apiErr.ErrorMessage(); m != "" {
		code += ": " + m
	}
	return code
}
