package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/keyceremony/keyceremony/ceremony"
)

// handoutStage is where a share handout stands: the custodian is called, then the share is shown.
type handoutStage int

const (
	handoutCall handoutStage = iota
	handoutShowing
)

// handoutPrompt gives one share to its custodian. The share appears only after the custodian,
// alone at the screen, presses Enter, and it leaves the screen and the scrollback when they
// continue (see clearSecretScreen). A share delivered as a file is only named, never shown; the
// passphrase the tool made for such a file is shown the way a share is.
type handoutPrompt struct {
	h      ceremony.ShareHandout
	reply  chan<- answer[struct{}]
	stage  handoutStage
	qrOnly bool // the QR code alone: planned so, or the custodian asked for it (Q)
	// width and height are the room the runner gives the prompt; fits says the share fits in
	// it, whole: Enter ("I have copied it") counts only then.
	width, height int
	fits          bool
}

func newHandoutPrompt(m handoutMsg, width, height int) *handoutPrompt {
	p := &handoutPrompt{h: m.h, reply: m.reply, qrOnly: m.h.QR}
	p.resize(width, height)
	return p
}

// resize takes the room the runner gives the prompt (the screen less the header and footer).
func (p *handoutPrompt) resize(width, height int) {
	p.width, p.height = width, height
	p.lines(newTheme(colorprofile.NoTTY), width, height) // sets fits
}

func (p *handoutPrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	switch {
	case k.Code == tea.KeyEnter && p.stage == handoutCall && p.h.File == "":
		p.stage = handoutShowing
	case k.Code == tea.KeyEnter && p.h.File == "" && !p.fits:
		// Nothing was shown that could have been copied: wait for a window it fits in.
	case k.Code == tea.KeyEnter:
		reply(p.reply, struct{}{}, nil)
		if p.h.File != "" {
			return nil, true
		}
		return clearSecretScreen(), true
	case p.stage == handoutShowing && (k.Text == "q" || k.Text == "Q"):
		p.qrOnly = !p.qrOnly
	}
	p.resize(p.width, p.height) // what Enter means next depends on what is now shown
	return nil, false
}

func (p *handoutPrompt) custodian() string {
	return fmt.Sprintf("Custodian %d (%s)", p.h.Index, p.h.Custodian.Name)
}

func (p *handoutPrompt) lines(th theme, width, height int) []string {
	title := th.title.Render(fmt.Sprintf("Share %d of %d · %s", p.h.Index, p.h.N, p.h.Custodian.String()))
	switch {
	case p.h.File != "":
		out := []string{title, ""}
		out = append(out, wrap(fileHandoutText(p.custodian(), p.h.File), width)...)
		out = append(out, "")
		out = append(out, p.labelLines(width)...)
		return append(out, "", th.dim.Render("Enter: continue"))
	case p.stage == handoutCall:
		what := "share"
		if p.h.Passphrase != nil {
			what = "passphrase"
		}
		call := wrap(th.current.Render(p.custodian()+": come to the screen alone and press Enter."), width)
		others := wrap(fmt.Sprintf("Everyone else: step away from the screen until %s has copied the %s. It is cleared from the screen and the scrollback afterwards.", p.h.Custodian.Name, what), width)
		help := th.dim.Render("Enter: show the " + what)
		if 2+len(call)+len(others)+4 > height { // a small screen keeps the call and the key
			return slices.Concat([]string{title}, call, []string{help})
		}
		return slices.Concat([]string{title, ""}, call, []string{""}, others, []string{"", help})
	case p.h.Passphrase != nil:
		out := []string{title, ""}
		out = append(out, wrap(passphraseIntro(p.custodian()), width)...)
		out = append(out, "")
		out = append(out, p.labelLines(width)...)
		out = append(out, "")
		return p.fit(th, out, strings.Split(passphraseBlock(p.h.Passphrase), "\n"), "Enter: I have written it down, clear the screen", "", width, height)
	}
	return p.shareLines(th, title, width, height)
}

// labelLines is what the custodian copies with the share.
func (p *handoutPrompt) labelLines(width int) []string {
	if p.h.Label.SetID == "" {
		return nil
	}
	return wrap("Copy with it: "+p.h.LabelText(), width)
}

// fit lays out a secret block below head, whole or not at all: a share cut at the window's edge
// would lose its check characters unseen. Too small a window gets the size it needs instead.
func (p *handoutPrompt) fit(th theme, head, block []string, help, what string, width, height int) []string {
	needW, needH := lipgloss.Width(strings.Join(block, "\n")), len(head)+len(block)+2
	p.fits = needW <= width && needH <= height
	if p.fits {
		return append(append(head, block...), "", th.dim.Render(help))
	}
	if what == "" {
		what = "the whole " + map[bool]string{true: "passphrase", false: "share with its check characters"}[p.h.Passphrase != nil]
	}
	out := head[:1:1]
	out = append(out, "")
	for _, l := range wrap(fmt.Sprintf("The window is too small to show %s: make the window at least %dx%d (it is %dx%d). It appears once the window is large enough.", what, max(needW, width), needH+3, width, height+3), width) {
		out = append(out, th.warn.Render(l))
	}
	return out
}

// passphraseIntro says what the passphrase is for and what comes next.
func passphraseIntro(custodian string) string {
	return custodian + ": this passphrase opens your share file. Write it down on paper you keep with you; you type it back next. It is cleared from the screen afterwards."
}

// passphraseBlock shows a generated passphrase's words numbered in two columns, so a custodian
// copying them by hand keeps their place.
func passphraseBlock(pass []byte) string {
	words := strings.Fields(string(pass))
	half := (len(words) + 1) / 2
	var b strings.Builder
	for i := range half {
		fmt.Fprintf(&b, "  %2d  %-10s", i+1, words[i])
		if j := i + half; j < len(words) {
			fmt.Fprintf(&b, "  %2d  %s", j+1, words[j])
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// fileHandoutText tells a custodian where their share file is and that it is theirs to take:
// it is a handout, outside the ceremony record, and the record keeps only its hash.
func fileHandoutText(custodian, file string) string {
	if strings.HasSuffix(file, ".pdf") {
		return fmt.Sprintf("%s: your share card was written to %s. Print it now on the offline printer, take the paper away, and delete the file: "+
			"the ceremony record keeps only its hash, and the file must not stay on this machine or its medium.", custodian, file)
	}
	return fmt.Sprintf("%s: your share was written to %s, encrypted with age. It is not shown on the screen. "+
		"Take it away now on your own removable medium: the ceremony record keeps only its hash, and the file must not stay on this machine.", custodian, file)
}

// shareLines shows the typed form and the QR code side by side when the window has room, else one
// of them with a key to switch: the typed form, or the QR code first when the plan delivers it
// so. The QR code of a share is large (some 45x24 cells).
func (p *handoutPrompt) shareLines(th theme, title string, width, height int) []string {
	typed := strings.Split(typedBlock(p.h.Share.Typed()), "\n")
	qr := strings.Split(strings.TrimRight(p.h.Share.QRTerminal(), "\n"), "\n")
	head := []string{title, p.custodian() + ": copy your share by hand, or photograph the QR code."}
	head = append(head, p.labelLines(width)...)
	head = append(head, "")
	both := strings.Split(lipgloss.JoinHorizontal(lipgloss.Top, strings.Join(typed, "\n"), "    ", strings.Join(qr, "\n")), "\n")
	if lipgloss.Width(strings.Join(both, "\n")) <= width && len(head)+len(both)+2 <= height {
		return p.fit(th, head, both, "Enter: I have copied it, clear the screen", "", width, height)
	}
	if p.qrOnly {
		return p.fit(th, head, qr, "Enter: I have copied it, clear the screen · Q: show the typed share", "its QR code (or press Q for the typed share)", width, height)
	}
	return p.fit(th, head, typed, "Enter: I have copied it, clear the screen · Q: show the QR code", "", width, height)
}

// typedBlock indents the typed share; its lines carry their own numbers, as they are typed back.
func typedBlock(typed string) string {
	lines := strings.Split(strings.TrimRight(typed, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func (p *handoutPrompt) fullScreen() bool { return true }

func (p *handoutPrompt) keys() []keyHelp {
	if p.h.File != "" || p.stage == handoutCall {
		return []keyHelp{{"Enter", "go on"}}
	}
	return []keyHelp{{"Enter", "I have copied it: clear the screen and the scrollback"}, {"Q", "switch between the typed share and its QR code"}}
}

func (p *handoutPrompt) literal() bool { return false }

func (p *handoutPrompt) abort(err error) { reply(p.reply, struct{}{}, err) }

// eraseAll homes the cursor, erases the screen, then erases the scrollback (ED 3, "\x1b[3J"), the
// order clear(1) uses. Erasing the scrollback last matters: some terminals (VTE) move an erased
// screen into the scrollback, so "3J" first would leave the share there.
const eraseAll = "\x1b[H\x1b[2J\x1b[3J"

// clearSecretScreen wipes a share off the terminal after its step. The next frame no longer holds
// it, but the terminal may have kept it (a resize reflows lines into the scrollback), so the raw
// erase goes out first and tea.ClearScreen makes the renderer redraw everything from the top
// instead of patching what it believes is still on the screen.
func clearSecretScreen() tea.Cmd {
	return tea.Sequence(tea.Raw(eraseAll), tea.ClearScreen)
}
