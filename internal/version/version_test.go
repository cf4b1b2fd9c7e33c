package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	settings := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, c := range []struct {
		main, rev, platform string
		settings            []debug.BuildSetting
	}{
		// go install ...@v1.2.0: a module version, no VCS.
		{"v1.2.0", "", "go1.26.8 darwin/arm64", settings("GOOS", "darwin", "GOARCH", "arm64", "CGO_ENABLED", "0")},
		// A build in a clean clone.
		{"v0.0.0-20261129144040-05a3c4cc0c01", "05a3c4cc0c01b3836cb36a09c5b6c9810de2bd0e", "go1.26.8 linux/amd64",
			settings("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", "05a3c4cc0c01b3836cb36a09c5b6c9810de2bd0e", "vcs.modified", "false")},
		// A build in a clone with changes: the revision says so.
		{"v0.0.0-20261129144040-05a3c4cc0c01+dirty", "05a3c4cc0c01b3836cb36a09c5b6c9810de2bd0e+modified", "go1.26.8 linux/arm64",
			settings("GOOS", "linux", "GOARCH", "arm64", "vcs.revision", "05a3c4cc0c01b3836cb36a09c5b6c9810de2bd0e", "vcs.modified", "true")},
	} {
		bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/keyceremony/keyceremony", Version: c.main}, Settings: c.settings}
		v, r, p := fromBuildInfo(bi)
		if v != c.main || r != c.rev || p != c.platform {
			t.Errorf("fromBuildInfo(%s) = %q, %q, %q; want %q, %q, %q", c.main, v, r, p, c.main, c.rev, c.platform)
		}
	}
	// No main module version stamped (-buildvcs=false in a clone, or a test binary).
	if v, r, _ := fromBuildInfo(&debug.BuildInfo{}); v != "(devel)" || r != "" {
		t.Errorf("an empty build info gives %q, %q", v, r)
	}
}
