package upload

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyceremony/keyceremony/internal/localkmstest"
)

// localKMS starts local-kms and returns clients made by NewClients, through the standard
// configuration chain, for it.
func localKMS(t testing.TB) (*kms.Client, *sts.Client) {
	localkmstest.AWSEnv(t)
	endpoint := localkmstest.Start(t)
	k, s, err := NewClients(context.Background(), endpoint, "eu-west-2")
	if err != nil {
		t.Fatal(err)
	}
	return k, s
}
