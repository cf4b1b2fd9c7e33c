package ui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/ceremony"
)

// confirmPrompt asks a person to confirm a fact. With Expect set it is a two-person check: a
// witness types back what another reads aloud, and a mismatch is said plainly and asked again.
type confirmPrompt struct {
	req      ceremony.ConfirmRequest
	reply    chan<- answer[struct{}]
	in       field
	mismatch string
}

func newConfirmPrompt(m confirmMsg) *confirmPrompt {
	return &confirmPrompt{req: m.req, reply: m.reply}
}

func (p *confirmPrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	if !p.in.edit(msg) {
		return nil, false
	}
	if confirmed(p.req.Expect, p.in.text()) {
		reply(p.reply, struct{}{}, nil)
		return nil, true
	}
	p.in.reset()
	p.mismatch = confirmMismatch(p.req.Expect)
	return nil, false
}

// confirmed says whether typed answers the request: the expected text with case and spaces not
// counting, or "yes" when nothing particular is expected.
func confirmed(expect, typed string) bool {
	if expect == "" {
		t := strings.ToLower(strings.TrimSpace(typed))
		return t == "yes" || t == "y"
	}
	return normalize(typed) == normalize(expect)
}

func normalize(s string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s))
}

// confirmMismatch is what to say after a wrong answer. It never repeats the expected text: the
// point of the check is that the witness reads it from paper, not from this screen.
func confirmMismatch(expect string) string {
	if expect == "" {
		return "Not confirmed. Type yes to confirm, or press Ctrl+C to stop the ceremony."
	}
	return "That does not match. Nothing was confirmed. Read it aloud again and type it again."
}

func (p *confirmPrompt) instruction() string {
	if p.req.Expect != "" {
		return p.req.Actor.String() + ": type back what is read aloud, then press Enter. Case and spaces do not matter."
	}
	return p.req.Actor.String() + ": type yes and press Enter to confirm."
}

func (p *confirmPrompt) lines(th theme, width, _ int) []string {
	var out []string
	for _, l := range wrap(p.req.Prompt, width) {
		out = append(out, th.title.Render(l))
	}
	if p.req.Detail != "" {
		for _, para := range strings.Split(p.req.Detail, "\n") {
			out = append(out, wrap(para, width)...)
		}
	}
	out = append(out, "")
	out = append(out, wrap(p.instruction(), width)...)
	out = append(out, p.in.view())
	if p.mismatch != "" {
		for _, l := range wrap("✗ "+p.mismatch, width) {
			out = append(out, th.bad.Render(l))
		}
	}
	return out
}

func (p *confirmPrompt) fullScreen() bool { return false }

func (p *confirmPrompt) abort(err error) {
	p.in.reset()
	reply(p.reply, struct{}{}, err)
}
