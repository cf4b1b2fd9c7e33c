package main

import (
	"fmt"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// tapUp is the testscript command "tapup CMD ARGS...": it makes a tap interface tap0, attaches
// to it (so it has a carrier) and brings it up, then runs CMD while holding it, so a test can
// put a machine with a network interface up in a network namespace of its own.
func tapUp() {
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "tapup: %s: %v\n", what, err)
		os.Exit(3)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR, 0)
	if err != nil {
		fail("open /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq("tap0")
	if err != nil {
		fail("ifreq", err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		fail("TUNSETIFF", err)
	}
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		fail("socket", err)
	}
	ifr.SetUint16(unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		fail("SIOCSIFFLAGS", err)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if e, ok := err.(*exec.ExitError); ok {
			os.Exit(e.ExitCode())
		}
		fail("run", err)
	}
	os.Exit(0)
}
