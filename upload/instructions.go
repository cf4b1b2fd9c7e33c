package upload

import (
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/wrap"
)

// clis names the command line tool of each profile's cloud.
var clis = map[string]string{
	wrap.ProfileAWS:   "the aws CLI",
	wrap.ProfileGCP:   "gcloud",
	wrap.ProfileAzure: "the az CLI",
	wrap.ProfileVault: "the vault CLI",
	wrap.ProfileOCI:   "the oci CLI",
}

// Instructions says how to upload an import package by hand: the exact command the manifest gives
// (the one in import-command.txt), then the command that shows the import worked and what it must
// show. Names the check needs are taken from the import command's own flags; where the import
// command does not carry one, the text names it in capitals (VERSION, KEY_OCID).
func Instructions(m *wrap.Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This package is for %s. Upload it with %s, from the package folder:\n\n", wrap.CloudName(m.Profile), clis[m.Profile])
	fmt.Fprintf(&b, "%s\n", indent(m.Command))
	b.WriteString("Then check that the import worked:\n\n")
	cmd := m.Command
	switch m.Profile {
	case wrap.ProfileAWS:
		keyID := flagValue(cmd, "--key-id", "KEY_ID")
		if m.AWS != nil && m.AWS.KeyID != "" {
			keyID = m.AWS.KeyID
		}
		fmt.Fprintf(&b, "    aws kms describe-key --key-id %s%s --query KeyMetadata.KeyState\n\n", keyID, optionalFlags(cmd, "--region", "--profile"))
		b.WriteString("It must print \"Enabled\". PendingImport means the import did not take place.\n")
	case wrap.ProfileGCP:
		project := ""
		if p := flagValue(cmd, "--project", ""); p != "" {
			project = " --project=" + p
		}
		fmt.Fprintf(&b, "    gcloud kms keys versions describe VERSION --key=%s --keyring=%s --location=%s%s --format='value(state)'\n\n",
			flagValue(cmd, "--key", "KEY"), flagValue(cmd, "--keyring", "KEYRING"), flagValue(cmd, "--location", "LOCATION"), project)
		b.WriteString("VERSION is the number at the end of the name the import printed (.../cryptoKeyVersions/VERSION).\n")
		b.WriteString("It must print ENABLED. PENDING_IMPORT means wait and ask again; IMPORT_FAILED means Google could not\n")
		b.WriteString("unwrap the package, and the version's importFailureReason says why.\n")
	case wrap.ProfileAzure:
		fmt.Fprintf(&b, "    az keyvault key show%s --name %s --query \"{kty:key.kty, enabled:attributes.enabled}\"\n\n",
			optionalFlags(cmd, "--vault-name", "--hsm-name"), flagValue(cmd, "--name", "NAME"))
		b.WriteString("It must show \"enabled\": true and a kty ending in -HSM (RSA-HSM, EC-HSM, oct-HSM): the key is\n")
		b.WriteString("protected by the vault's HSM.\n")
	case wrap.ProfileVault:
		fmt.Fprintf(&b, "    vault read %s\n\n", vaultKeyPath(cmd))
		fmt.Fprintf(&b, "It must show imported_key true and type %s.\n", vaultType(cmd))
	case wrap.ProfileOCI:
		fmt.Fprintf(&b, "    oci kms management key get --key-id KEY_OCID%s\n\n", optionalFlags(cmd, "--endpoint"))
		b.WriteString("KEY_OCID is the \"id\" the import printed. Its \"lifecycle-state\" must be ENABLED; CREATING or\n")
		b.WriteString("ENABLING means wait and ask again.\n")
	}
	fmt.Fprintf(&b, "\nThe key in the package: %s.\n", keyDescription(m.Key))
	return b.String()
}

// keyDescription names a key without revealing it: "card-data (AES-256, KCV a1b2c3)".
func keyDescription(k wrap.ManifestKey) string {
	s := k.Label + " (" + k.Spec
	if k.KCV != "" {
		s += ", KCV " + k.KCV
	}
	if k.Fingerprint != "" {
		s += ", " + k.Fingerprint
	}
	return s + ")"
}

func indent(lines string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(lines, "\n"), "\n") {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	return b.String()
}

// flagValue returns the value of a flag in a command line, given as "--flag value" or "--flag=value"
// (quotes removed), or placeholder when the command does not give it.
func flagValue(cmd, flag, placeholder string) string {
	fields := strings.Fields(cmd)
	for i, f := range fields {
		if v, ok := strings.CutPrefix(f, flag+"="); ok {
			return strings.Trim(v, `'"`)
		}
		if f == flag && i+1 < len(fields) {
			return strings.Trim(fields[i+1], `'"`)
		}
	}
	return placeholder
}

// optionalFlags returns " --flag value" for each of flags the command gives.
func optionalFlags(cmd string, flags ...string) string {
	var b strings.Builder
	for _, f := range flags {
		if v := flagValue(cmd, f, ""); v != "" {
			fmt.Fprintf(&b, " %s %s", f, v)
		}
	}
	return b.String()
}

// vaultKeyPath finds the key's path in a Vault Transit import command: the argument naming
// MOUNT/keys/NAME, without a trailing /import.
func vaultKeyPath(cmd string) string {
	for _, f := range strings.Fields(cmd) {
		if strings.Contains(f, "/keys/") {
			return strings.TrimSuffix(f, "/import")
		}
	}
	return "transit/keys/NAME"
}

// vaultType returns the type= argument of a Vault Transit import command, Vault's default when absent.
func vaultType(cmd string) string {
	for _, f := range strings.Fields(cmd) {
		if v, ok := strings.CutPrefix(f, "type="); ok {
			return v
		}
	}
	return "aes256-gcm96"
}
