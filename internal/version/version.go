// Package version says which keyceremony this is, from what the Go toolchain stamped into the
// binary (runtime/debug.ReadBuildInfo): the module version and the VCS revision. It is recorded
// in every transcript and import package.
package version

import "runtime/debug"

// Version is the module version: "v1.2.0" for `go install ...@v1.2.0`, a pseudo-version
// (v0.0.0-DATE-COMMIT) for a build in a clone, or "(devel)" when the toolchain stamped none
// (-buildvcs=false, or a test binary).
var Version = "(devel)"

// Revision is the full VCS commit the binary was built from, with "+modified" when the working
// tree had changes; "" when none was stamped (go install of a module version, -buildvcs=false).
var Revision string

// Platform is the Go version, system and architecture: "go1.26.8 linux/amd64".
var Platform string

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok {
		Version, Revision, Platform = fromBuildInfo(bi)
	}
}

func fromBuildInfo(bi *debug.BuildInfo) (version, revision, platform string) {
	version = "(devel)"
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	revision = s["vcs.revision"]
	if revision != "" && s["vcs.modified"] == "true" {
		revision += "+modified"
	}
	return version, revision, bi.GoVersion + " " + s["GOOS"] + "/" + s["GOARCH"]
}
