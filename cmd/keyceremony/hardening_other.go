//go:build !unix

package main

// disableCoreDumps does nothing on Windows: it has no core limit to set (crash dumps follow the
// system's Windows Error Reporting settings) and no PR_SET_DUMPABLE. Ceremonies belong on the
// Linux workstation; the build for Windows is the auditor's, which handles public records only.
func disableCoreDumps() {}
