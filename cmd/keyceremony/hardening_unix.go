//go:build unix && !linux

package main

import "golang.org/x/sys/unix"

// disableCoreDumps keeps key material and PINs in this process's memory out of core files. These
// systems have no PR_SET_DUMPABLE, so another process of the same user may still attach a
// debugger: ceremonies belong on the Linux workstation (docs/architecture.md).
func disableCoreDumps() {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
}
