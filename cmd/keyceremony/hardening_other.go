//go:build !unix

package main

// disableCoreDumps does nothing here: Windows has no core limit to set (crash dumps are the
// system's Windows Error Reporting settings). Ceremonies run on the Linux workstation; this
// build holds no key material, only public records.
func disableCoreDumps() {}
