package ui

import (
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

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
	qrOnly bool // the window is too small for both forms and the custodian asked for the QR code
}

func newHandoutPrompt(m handoutMsg) *handoutPrompt {
	return &handoutPrompt{h: m.h, reply: m.reply}
}

func (p *handoutPrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil, false
	}
	switch {
	case k.Code == tea.KeyEnter && p.stage == handoutCall && p.h.File == "":
		p.stage = handoutShowing
	case k.Code == tea.KeyEnter:
		reply(p.reply, struct{}{}, nil)
		if p.h.File != "" {
			return nil, true
		}
		return clearSecretScreen(), true
	case p.stage == handoutShowing && (k.Text == "q" || k.Text == "Q"):
		p.qrOnly = !p.qrOnly
	}
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
		return append(out, "", th.dim.Render("Enter: continue"))
	case p.stage == handoutCall:
		what := "share"
		if p.h.Passphrase != nil {
			what = "passphrase"
		}
		out := []string{title, ""}
		out = append(out, wrap(th.current.Render(p.custodian()+": come to the screen alone and press Enter."), width)...)
		out = append(out, "")
		out = append(out, wrap(fmt.Sprintf("Everyone else: step away from the screen until %s has copied the %s. It is cleared from the screen and the scrollback afterwards.", p.h.Custodian.Name, what), width)...)
		return append(out, "", th.dim.Render("Enter: show the "+what))
	case p.h.Passphrase != nil:
		out := []string{title, ""}
		out = append(out, wrap(passphraseIntro(p.custodian()), width)...)
		out = append(out, "")
		out = append(out, strings.Split(passphraseBlock(p.h.Passphrase), "\n")...)
		return append(out, "", th.dim.Render("Enter: I have written it down, clear the screen"))
	}
	return p.shareLines(th, title, width, height)
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
	return fmt.Sprintf("%s: your share was written to %s, encrypted with age. It is not shown on the screen. "+
		"Take it away now on your own removable medium: the ceremony record keeps only its hash, and the file must not stay on this machine.", custodian, file)
}

// shareLines shows the typed form and the QR code side by side when the window has room, else one
// of them with a key to switch. The QR code of a share is large (some 45x24 cells), so an 80x24
// window shows the typed form, and the QR code only once the window is made larger.
func (p *handoutPrompt) shareLines(th theme, title string, width, height int) []string {
	typed := typedBlock(p.h.Share.Typed())
	qr := strings.TrimRight(p.h.Share.QRTerminal(), "\n")
	const around = 5 // title, instruction and blank lines above the share, blank and help below
	out := []string{title, p.custodian() + ": copy your share by hand, or photograph the QR code.", ""}
	help := "Enter: I have copied it, clear the screen"
	body := lipgloss.JoinHorizontal(lipgloss.Top, typed, "    ", qr)
	if lipgloss.Width(body) > width || lipgloss.Height(body)+around > height {
		body = typed
		help += " · Q: show the QR code"
		if p.qrOnly {
			body = qr
			help = "Enter: I have copied it, clear the screen · Q: show the typed share"
			if w, h := lipgloss.Size(qr); w > width || h+around > height {
				var need []string
				if w > width {
					need = append(need, count(w-width, "more column"))
				}
				if h+around > height {
					need = append(need, count(h+around-height, "more line"))
				}
				body = strings.Join(wrap("The window is too small for the QR code: it needs "+strings.Join(need, " and ")+". Make the window larger, or copy the typed share.", width), "\n")
			}
		}
	}
	out = append(out, strings.Split(body, "\n")...)
	return append(out, "", th.dim.Render(help))
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
