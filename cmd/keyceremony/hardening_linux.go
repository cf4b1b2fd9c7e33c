package main

import "golang.org/x/sys/unix"

// disableCoreDumps keeps key material and PINs in this process's memory out of core files, and
// other processes of the same user from reading it through ptrace or /proc/PID/mem.
func disableCoreDumps() {
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
