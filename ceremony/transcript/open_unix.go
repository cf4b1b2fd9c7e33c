//go:build unix

package transcript

import "syscall"

// noFollowNonBlock opens neither through a symbolic link in the last element of a path nor
// waits on a named pipe or a device.
const noFollowNonBlock = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
