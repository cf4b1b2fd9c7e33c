//go:build unix && !linux

package main

import "golang.org/x/sys/unix"

// disableCoreDumps keeps key material and PINs in this process's memory out of core files. These
// systems have no PR_SET_DUMPABLE; ceremonies run on the Linux workstation, and other builds
// hold no key material, only public records.
func disableCoreDumps() {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
}
