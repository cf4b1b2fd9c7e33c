package ceremony

import (
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/wrap"
)

// Step ids recorded in the transcript. Per-target and per-custodian steps add ":" and the name or index.
const (
	stepOpenToken    = "open-token"
	stepBegin        = "begin"
	stepCheckWrapKey = "check-wrapping-key"
	stepGenerateKey  = "generate-key"
	stepFindKey      = "find-key"
	stepCollect      = "collect-shares"
	stepRestoreKey   = "restore-key"
	stepHandout      = "handout"
	stepVerifyShare  = "verify-share"
	stepBackup       = "backup"
	stepVoid         = "void-set" // a share set left unsealed is destroyed; ":" and its set id
	stepWrap         = "wrap"
	stepSeal         = "seal"
	stepAbort        = "abort"
	// StepAbort is the step that ends an interrupted ceremony without finishing it.
	StepAbort = stepAbort
	// stepSignOff records the witness's confirmation of the closing summary, just before the seal.
	stepSignOff = "sign-off"
	// stepSigningKeyChecked records the witness's check of the signing key, on every run.
	stepSigningKeyChecked = "signing-key-checked"
)

// Script is the numbered list of what the ceremony will do, in order. `plan check` prints it; the
// runner shows it as a checklist; the transcript records each step under its ID.
func (p *Plan) Script() []Step {
	if p.Kind == KindCheckIn {
		return p.checkInScript()
	}
	admin := p.first(RoleAdministrator)
	witness := p.first(RoleWitness)
	so := p.first(RoleSecurityOfficer)
	if so.Name == "" {
		so = admin
	}
	var s []Step
	// addFor adds a step about the key labelled key; add one about the whole ceremony.
	addFor := func(key, id, title string, who Actor, instr string) {
		s = append(s, Step{ID: id, Title: title, Actor: who, Instructions: instr, Key: key})
	}
	add := func(id, title string, who Actor, instr string) { addFor("", id, title, who, instr) }
	login := fmt.Sprintf("%s enters the token's user PIN. Nobody else looks at the keyboard.", so.Name)
	if p.trusting() {
		login = fmt.Sprintf("%s enters the security officer PIN, and the keys the target key may be wrapped under (the clouds' wrapping keys, the backup key) are marked CKA_TRUSTED for this session; then %s enters the user PIN. Nobody else looks at the keyboard.", so.Name, so.Name)
	}
	add(stepOpenToken, fmt.Sprintf("Open token %q and log in", p.Token.Token), so, login)
	add(stepBegin, "Make the ceremony signing key and start the transcript", witness,
		fmt.Sprintf("The screen shows the signing key's fingerprint. %s writes it on the paper log and types its read-back form back from the paper.", witness.Name))
	switch {
	case p.trusting():
		add(stepTrust, "Record the keys the security officer marked trusted", so,
			"The transcript names each key marked CKA_TRUSTED when the token was opened. The token refuses to wrap the target key under any other.")
	case p.Backup != nil || len(p.Targets) > 0:
		add(stepTrust, "Record that no key is marked trusted", admin,
			"The plan allows untrusted wrapping (custody.allow_untrusted_wrap): the token does not keep a user PIN holder from wrapping the key out. This is recorded as an exception.")
	}
	// Every ceremony that wraps has each wrapping key checked first.
	for _, t := range p.CheckedTargets() {
		title := fmt.Sprintf("Check the %s wrapping key of target %s", wrap.CloudName(t.Profile), t.Name)
		switch n := len(p.sharing(t)); {
		case n == 1:
			title += " and of the other target that shares its import parameters"
		case n > 1:
			title += fmt.Sprintf(" and of the %d other targets that share its import parameters", n)
		}
		addFor(p.scopeOf(t), stepCheckWrapKey+":"+t.Name, title, witness,
			fmt.Sprintf("Someone reads aloud the wrapping key fingerprint from the printed import request (keyceremony fingerprint prints it); %s types back all 8 groups.", witness.Name))
	}
	switch {
	case p.generates():
		for _, v := range p.Views() {
			addFor(v.scope, v.keyStepID(stepGenerateKey), fmt.Sprintf("Generate the %s key %q in the HSM%s", v.spec, v.Key.Label, v.rotatesNote()), witness,
				fmt.Sprintf("The key is made inside the HSM, sensitive and wrappable only. The screen shows its %s; %s writes it on the paper log and types it back.", v.keyIdentity(), witness.Name))
		}
	case p.Kind == KindRewrap:
		if !p.restores() { // a re-import from the backup restores the key instead (below)
			add(stepFindKey, fmt.Sprintf("Find the %s key %q in the token", p.spec, p.Key.Label), admin,
				"The key must already be in the token with the planned type.")
		}
	}
	if p.restores() || p.Kind == KindReshare {
		add(stepCollect, "Quorum members enter their shares", Actor{Role: RoleCustodian},
			"Each custodian comes to the screen alone and enters their share. Each share is checked at once. Where the share was sealed in a tamper-evident bag, the custodian types the bag's serial; a serial that differs from its handout record is an exception the witness acknowledges.")
	}
	if p.restores() {
		add(stepRestoreKey, fmt.Sprintf("Restore key %q into the token", p.Key.Label), witness,
			fmt.Sprintf("The backup is opened inside the HSM; the restored key must match the backup manifest. The screen shows its %s; %s writes it on the paper log and types it back.", p.keyIdentity(), witness.Name))
	}
	for _, v := range p.shareSets() {
		for i, c := range p.Backup.Custodians {
			addFor(v.scope, v.shareStepID(stepHandout, i+1), fmt.Sprintf("Hand share %d of %d%s to %s", i+1, len(p.Backup.Custodians), v.ofSet(), c.Name),
				Actor{Role: RoleCustodian, Name: c.Name}, handoutInstructions(c)+p.bagInstructions(c.Name))
		}
		for i, c := range p.Backup.Custodians {
			addFor(v.scope, v.shareStepID(stepVerifyShare, i+1), fmt.Sprintf("%s proves share %d%s can be read back", c.Name, i+1, v.ofSet()),
				Actor{Role: RoleCustodian, Name: c.Name}, "The custodian enters the share again (or opens the file); it must match its commitment.")
		}
		addFor(v.scope, v.keyStepID(stepBackup), fmt.Sprintf("Seal the %d-of-%d backup%s", p.Backup.Threshold, len(p.Backup.Custodians), v.ofSet()), admin,
			"The backup manifest and blob are written; only now does the share set count.")
	}
	for _, t := range p.Targets {
		addFor(p.scopeOf(t), stepWrap+":"+t.Name, fmt.Sprintf("Wrap the key for %s (%s)", t.Name, wrap.CloudName(t.Profile)), admin,
			"The key is wrapped under the cloud's public key inside the HSM and the import package is written.")
	}
	add(stepCustody, "Leave the token as the plan says", admin, p.custodyInstructions())
	add(stepSeal, "Sign off and seal the transcript", witness,
		fmt.Sprintf("The screen shows the summary for the paper log (signing key, key, share set and holders, packages, exceptions); %s copies it, checks it and confirms. The transcript is then sealed with a checkpoint, whose SHA-256 goes on the paper log too, and the transcript signing key is destroyed: nobody can sign a rewritten transcript with it.", witness.Name))
	for _, c := range p.Cosign {
		add(stepCosign+":"+c.Witness, fmt.Sprintf("%s cosigns the sealed checkpoint", c.Witness), Actor{Role: RoleWitness, Name: c.Witness},
			fmt.Sprintf("%s compares the checkpoint with the paper log and cosigns it with their own witness key, which never was in the token. Typing later leaves it for 'keyceremony cosign'.", c.Witness))
	}
	return s
}

// quoteKeys names keys in a sentence: key "a", or keys "a", "b".
func quoteKeys(labels []string) string {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = fmt.Sprintf("%q", l)
	}
	if len(q) == 1 {
		return "key " + q[0]
	}
	return "keys " + strings.Join(q, ", ")
}

// keyLabels are the labels of the plan's keys.
func (p *Plan) keyLabels() []string {
	var labels []string
	for _, v := range p.Views() {
		labels = append(labels, v.Key.Label)
	}
	return labels
}

// shareSets are the plan's share sets, as the plans their steps see: none without a backup; the
// plan itself for one set (a plan with one key, or whose keys share one set); each key's view
// when the plan has a set per key.
func (p *Plan) shareSets() []*Plan {
	switch {
	case p.Backup == nil:
		return nil
	case p.Backup.Sets == SetsPerKey:
		return p.Views()
	}
	return []*Plan{p}
}

// setKeys names the keys the plan's (or view's) share set backs up, for the label that goes
// with each share: the key's label, or the first and how many more of a set shared by several.
func (p *Plan) setKeys() string {
	if p.scope != "" || len(p.Keys) == 0 {
		return p.Key.Label
	}
	return fmt.Sprintf("%s and %d more of this ceremony", p.Keys[0].Label, len(p.Keys)-1)
}

// shareStepID is the id of the handout or verification of share i of the set of the plan (or
// view): step:i, or step:LABEL/i for the set of one key of a keys: plan.
func (p *Plan) shareStepID(step string, i int) string {
	if p.scope == "" {
		return fmt.Sprintf("%s:%d", step, i)
	}
	return fmt.Sprintf("%s:%s/%d", step, p.scope, i)
}

// ofSet names whose share set a step is about, in step titles: "" when the ceremony has one.
func (p *Plan) ofSet() string {
	if p.scope == "" {
		return ""
	}
	return " of key " + p.scope
}

// bagInstructions is what a handout adds when the plan asks for tamper-evident bags.
func (p *Plan) bagInstructions(custodian string) string {
	if !p.Backup.Bags {
		return ""
	}
	return fmt.Sprintf(" The share is sealed in a tamper-evident bag in front of the witness, and %s types the bag's serial, which is recorded.", custodian)
}

// keyIdentity names what identifies the plan's key to a person: the check value of a secret key,
// the public key fingerprint of a key pair.
func (p *Plan) keyIdentity() string {
	if p.spec.IsSecret() {
		return "key check value in large characters"
	}
	return "public key fingerprint"
}

func handoutInstructions(c CustodianPlan) string {
	switch c.Delivery {
	case DeliveryTyped, DeliveryQR:
		return fmt.Sprintf("%s comes to the screen alone and copies the share by hand (or photographs the QR code onto their own medium). The screen is cleared afterwards.", c.Name)
	case DeliveryPrint:
		return fmt.Sprintf("The share is written as a one-page share card (PDF) into the handouts folder; it is printed on the offline printer, handed to %s, and the file is deleted. The transcript keeps only its SHA-256.", c.Name)
	case DeliveryAgePassphrase:
		if c.Passphrase == PassphraseChosen {
			return fmt.Sprintf("%s chooses a passphrase of at least 100 bits (12 or more unrelated words) and types it twice; the share is written as an age file encrypted to it, into the handouts folder, for %s to take away.", c.Name, c.Name)
		}
		return fmt.Sprintf("%s comes to the screen alone, writes down the %d-word passphrase the tool makes and types it back; the share is written as an age file encrypted to it, into the handouts folder, for %s to take away.", c.Name, backup.PassphraseWords, c.Name)
	default:
		return fmt.Sprintf("The share is written as an age file encrypted to %s's public key, into the handouts folder, for %s to take away.", c.Name, c.Name)
	}
}

func (p *Plan) first(role string) Actor {
	for _, a := range p.Participants {
		if a.Role == role {
			return a
		}
	}
	return Actor{Role: role}
}

// FormatScript renders the numbered script for `plan check` and line mode.
func FormatScript(steps []Step) string {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "%2d. %s\n    who: %s\n    %s\n", i+1, s.Title, s.Actor, s.Instructions)
	}
	return b.String()
}
