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
		fmt.Fprintf(&b, "    gcloud kms keys versions describe VERSION --key=%s --keyring=%s --location=%s%s --format='value(state)'\n\n",
			flagValue(cmd, "--key", "KEY"), flagValue(cmd, "--keyring", "KEYRING"), flagValue(cmd, "--location", "LOCATION"), gcpProject(cmd))
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
		if t := vaultType(cmd); t != "" {
			fmt.Fprintf(&b, "It must show imported_key true and type %s.\n", t)
		} else { // import_version: the key keeps its type
			b.WriteString("It must show imported_key true.\n")
		}
	case wrap.ProfileOCI:
		keyID := flagValue(cmd, "--key-id", "KEY_OCID") // a key-version import names the key
		fmt.Fprintf(&b, "    oci kms management key get --key-id %s%s\n\n", keyID, optionalFlags(cmd, "--endpoint"))
		if keyID == "KEY_OCID" {
			b.WriteString("KEY_OCID is the \"id\" the import printed. ")
		}
		b.WriteString("Its \"lifecycle-state\" must be ENABLED; CREATING or\n")
		b.WriteString("ENABLING means wait and ask again.\n")
	}
	if m.NewVersion != nil {
		newVersionInstructions(&b, m)
	}
	fmt.Fprintf(&b, "\nThe key in the package: %s.\n", keyDescription(m.Key))
	return b.String()
}

// newVersionInstructions says, for a rotation's package, which key it makes a new version of,
// why that way, and how to see that the new version is the one in use and the earlier ones stay.
func newVersionInstructions(b *strings.Builder, m *wrap.Manifest) {
	nv, cmd := m.NewVersion, m.Command
	fmt.Fprintf(b, "\nThis package is a rotation: it makes the key a new version of %s, not a new key (%s).\n", nv.Replaces, nv.Path)
	fmt.Fprintf(b, "Why: %s.\n\nThen check that the new version is the one in use:\n\n", nv.Why)
	switch nv.Path {
	case wrap.NewVersionAWSRotation:
		fmt.Fprintf(b, "    aws kms list-key-rotations --key-id %s%s\n\n", m.AWS.KeyID, optionalFlags(cmd, "--region"))
		b.WriteString("Once the rotation is done, the KeyMaterialId the upload receipt records is CURRENT and the earlier\n")
		b.WriteString("material NON_CURRENT (still used to decrypt). PENDING_ROTATION means rotate-key-on-demand has not run.\n")
	case wrap.NewVersionAWSAlias:
		fmt.Fprintf(b, "    aws kms describe-key --key-id %s%s --query KeyMetadata.Arn\n\n", m.AWS.Alias, optionalFlags(cmd, "--region"))
		fmt.Fprintf(b, "It must print %s. Keep the earlier KMS key enabled for as long as data under it remains.\n", m.AWS.KeyID)
	case wrap.NewVersionGCP:
		fmt.Fprintf(b, "    gcloud kms keys describe %s --keyring=%s --location=%s%s --format='value(primary.name)'\n\n",
			flagValue(cmd, "--key", "KEY"), flagValue(cmd, "--keyring", "KEYRING"), flagValue(cmd, "--location", "LOCATION"), gcpProject(cmd))
		b.WriteString("For a symmetric encryption key it must end in the new VERSION; if not, make it primary with\n")
		fmt.Fprintf(b, "gcloud kms keys set-primary-version %s --version=VERSION --keyring=%s --location=%s%s.\n",
			flagValue(cmd, "--key", "KEY"), flagValue(cmd, "--keyring", "KEYRING"), flagValue(cmd, "--location", "LOCATION"), gcpProject(cmd))
		b.WriteString("Keep the earlier versions ENABLED for as long as data under them remains.\n")
	case wrap.NewVersionAzure:
		fmt.Fprintf(b, "    az keyvault key list-versions%s --name %s --query \"[].{kid:kid, enabled:attributes.enabled}\"\n\n",
			optionalFlags(cmd, "--vault-name", "--hsm-name"), flagValue(cmd, "--name", "NAME"))
		b.WriteString("It must list the new version beside the earlier ones, all enabled; az keyvault key show now shows\n")
		b.WriteString("the new version's kid. Keep the earlier versions enabled for as long as data under them remains.\n")
	case wrap.NewVersionVault:
		fmt.Fprintf(b, "    vault read %s\n\n", vaultKeyPath(cmd))
		b.WriteString("latest_version must be one more than before, and keys must list the earlier versions. Keep\n")
		b.WriteString("min_decryption_version at the earliest version whose data you still need.\n")
	case wrap.NewVersionOCI:
		fmt.Fprintf(b, "    oci kms management key get --key-id %s%s --query 'data.\"current-key-version\"'\n\n",
			flagValue(cmd, "--key-id", "KEY_OCID"), optionalFlags(cmd, "--endpoint"))
		b.WriteString("It must print the id of the version the import printed; oci kms management key-version list\n")
		b.WriteString("lists the earlier versions, which stay for old data.\n")
	}
}

// gcpProject is " --project=P" when the gcloud command names its project.
func gcpProject(cmd string) string {
	if p := flagValue(cmd, "--project", ""); p != "" {
		return " --project=" + p
	}
	return ""
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

// flagValue returns the value of a flag in a command line (wrap.CommandFlag), or placeholder
// when the command does not give it.
func flagValue(cmd, flag, placeholder string) string {
	if v, ok := wrap.CommandFlag(cmd, flag); ok {
		return v
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
			return strings.TrimSuffix(strings.TrimSuffix(f, "/import"), "/import_version")
		}
	}
	return "transit/keys/NAME"
}

// vaultType returns the type= argument of a Vault Transit import command, Vault's default when
// absent; "" for import_version, which takes none.
func vaultType(cmd string) string {
	for _, f := range strings.Fields(cmd) {
		if v, ok := strings.CutPrefix(f, "type="); ok {
			return v
		}
		if strings.HasSuffix(f, "/import_version") {
			return ""
		}
	}
	return "aes256-gcm96"
}
