package machine

import "golang.org/x/sys/unix"

// kernel is uname's system name, release and version: "Linux 6.1.0-18-amd64 #1 SMP ...".
func kernel() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return Unknown
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:])
}
