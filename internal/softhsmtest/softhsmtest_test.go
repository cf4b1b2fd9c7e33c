package softhsmtest_test

import (
	"os"
	"strings"
	"testing"

	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

func TestSession(t *testing.T) {
	s := softhsmtest.Session(t)
	if s.Token().Label != softhsmtest.Label {
		t.Errorf("token %+v", s.Token())
	}
	if conf := os.Getenv("SOFTHSM2_CONF"); !strings.HasPrefix(conf, os.TempDir()) {
		t.Errorf("SOFTHSM2_CONF = %s, not under the test's temporary directory", conf)
	}
}
