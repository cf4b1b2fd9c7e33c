//go:build !linux

package machine

func kernel() string { return Unknown }
