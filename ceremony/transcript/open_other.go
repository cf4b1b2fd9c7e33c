//go:build !unix

package transcript

// noFollowNonBlock is 0 where the system has neither flag (Windows). Every path is checked with
// Lstat before it is opened and the open file again with Stat, so only a symbolic link swapped
// in between the two, on the auditor's own machine, would be followed there.
const noFollowNonBlock = 0
