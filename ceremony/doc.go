// Package ceremony runs a key ceremony from a plan: it decodes and validates the plan in full
// (LoadPlan, Plan.Check, Plan.Preflight), prints its numbered script, drives the token through
// the steps with an Interaction (a person at the terminal, or headless) while journalling every
// intent and effect in the signed transcript (Run, with resume and abort), and lists the keys of
// many ceremony folders (Inventory).
//
// The engine drives a token, so its files (engine.go, custody_run.go, key.go, shares.go,
// targets.go and the others marked so) are built with cgo only; plans, scripts, preflight
// without a token, the Interaction types and inventory are built without it, for the auditor's
// and the connected side's build.
package ceremony
