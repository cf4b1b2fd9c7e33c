//go:build !linux

package main

import (
	"fmt"
	"os"
)

func tapUp() {
	fmt.Fprintln(os.Stderr, "tapup: network namespaces with a tap interface are Linux only")
	os.Exit(3)
}
