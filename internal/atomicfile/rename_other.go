//go:build !linux

package atomicfile

// renameNoReplace has no one-step form here; the fallbacks do the work.
func renameNoReplace(old, new string) error { return errUnsupported }
