// Package version holds keyceremony's version, recorded in every transcript and import package.
package version

// Version is the release this build claims to be.
const Version = "0.1.0-dev"
