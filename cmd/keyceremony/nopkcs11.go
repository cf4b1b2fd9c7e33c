//go:build !cgo

package main

import (
	"errors"
	"io"

	"github.com/keyceremony/keyceremony/ceremony"
	"github.com/keyceremony/keyceremony/internal/hsmspec"
)

// A build without cgo has no PKCS#11 (github.com/miekg/pkcs11 is cgo): it verifies, shows,
// reviews and inventories records and works on the connected side, but runs no ceremony.
var errNoPKCS11 = errors.New("this build has no PKCS#11 support\nhint: build with cgo (CGO_ENABLED=1, gcc) on the ceremony workstation")

// pkcs11Support is what --version says of this build.
const pkcs11Support = "without PKCS#11 (the auditor's and the connected side's build)"

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) error { return errNoPKCS11 }

func checkToken(*ceremony.Plan) (hsmspec.TokenInfo, hsmspec.Capabilities, error) {
	return hsmspec.TokenInfo{}, hsmspec.Capabilities{}, errNoPKCS11
}
