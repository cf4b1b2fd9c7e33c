// Package upload is keyceremony's connected side for AWS KMS: it fetches import parameters (KMS
// CreateKey with Origin EXTERNAL, then GetParametersForImport) for the air-gapped ceremony, and
// uploads the import package the ceremony wrote (KMS ImportKeyMaterial, confirmed with DescribeKey),
// leaving a receipt of what was sent and what KMS answered. For Google Cloud KMS, Azure Key Vault,
// Vault Transit and OCI Vault packages it gives the cloud's own CLI command and the check to run
// after it.
package upload

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// KMS is the part of the AWS KMS API that Prepare and Upload call; *kms.Client implements it.
type KMS interface {
	CreateKey(context.Context, *kms.CreateKeyInput, ...func(*kms.Options)) (*kms.CreateKeyOutput, error)
	GetParametersForImport(context.Context, *kms.GetParametersForImportInput, ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error)
	ImportKeyMaterial(context.Context, *kms.ImportKeyMaterialInput, ...func(*kms.Options)) (*kms.ImportKeyMaterialOutput, error)
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	// A rotation's package follows its import with one of these (wrap.NewVersion).
	RotateKeyOnDemand(context.Context, *kms.RotateKeyOnDemandInput, ...func(*kms.Options)) (*kms.RotateKeyOnDemandOutput, error)
	UpdateAlias(context.Context, *kms.UpdateAliasInput, ...func(*kms.Options)) (*kms.UpdateAliasOutput, error)
}

// STS is the part of the AWS STS API that Upload calls to record who uploaded; *sts.Client
// implements it.
type STS interface {
	GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// NewClients makes KMS and STS clients from the standard AWS configuration chain (environment,
// shared config and credentials files, SSO, instance roles). A non-empty region overrides the
// chain's. A non-empty endpointURL (an emulator, a VPC endpoint) is used for both clients, so that
// nothing goes elsewhere; AWS_ENDPOINT_URL_KMS and AWS_ENDPOINT_URL_STS from the chain set them apart.
func NewClients(ctx context.Context, endpointURL, region string) (*kms.Client, *sts.Client, error) {
	if endpointURL != "" {
		u, err := url.Parse(endpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("endpoint URL %q is not an http or https URL\nhint: give it as https://host[:port], e.g. http://127.0.0.1:8080 for local-kms", endpointURL)
		}
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the AWS configuration: %v\nhint: check AWS_PROFILE, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE", err)
	}
	if cfg.Region == "" {
		return nil, nil, fmt.Errorf("no AWS region is configured\nhint: set AWS_REGION, or region in the AWS config profile, or pass --region")
	}
	if endpointURL == "" {
		return kms.NewFromConfig(cfg), sts.NewFromConfig(cfg), nil
	}
	k := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(endpointURL) })
	s := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpointURL) })
	return k, s, nil
}
