package ui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/ceremony"
)

// confirmPrompt asks a person to confirm a fact. With TypeBack set it is a two-person check: a
// witness types back what another reads aloud, and the engine, which alone knows the answer,
// compares it and asks again with the group that did not match.
type confirmPrompt struct {
	req      ceremony.ConfirmRequest
	reply    chan<- answer[string]
	in       field
	mismatch string
}

func newConfirmPrompt(m confirmMsg) *confirmPrompt {
	return &confirmPrompt{req: m.req, reply: m.reply, mismatch: m.req.LastError}
}

func (p *confirmPrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	if !p.in.edit(msg) {
		return nil, false
	}
	typed := p.in.text()
	if answered(p.req, typed) {
		p.in.reset()
		reply(p.reply, typed, nil)
		return nil, true
	}
	p.in.reset()
	if !p.req.TypeBack && !p.req.Reason {
		p.mismatch = notConfirmed
	}
	return nil, false
}

// answered says whether typed is an answer to pass on: anything typed for a type-back (the engine
// compares it), "yes" for a plain confirmation.
func answered(r ceremony.ConfirmRequest, typed string) bool {
	t := strings.ToLower(strings.TrimSpace(typed))
	if r.TypeBack || r.Reason {
		return t != ""
	}
	return t == "yes" || t == "y"
}

// notConfirmed is what to say after an answer other than yes.
const notConfirmed = "Not confirmed. Type yes to confirm, or press Ctrl+C to stop the ceremony."

func (p *confirmPrompt) instruction() string {
	if p.req.Reason {
		return p.req.Actor.String() + ": type it and press Enter."
	}
	if p.req.TypeBack {
		return p.req.Actor.String() + ": type back what is read aloud, group by group, then press Enter. Case, spaces and dashes do not matter."
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
	out = append(out, p.in.view(th))
	if p.mismatch != "" {
		for _, l := range wrap("✗ "+p.mismatch, width) {
			out = append(out, th.bad.Render(l))
		}
	}
	return out
}

func (p *confirmPrompt) fullScreen() bool { return false }

func (p *confirmPrompt) keys() []keyHelp { return editKeys }

func (p *confirmPrompt) literal() bool { return p.req.Reason }

func (p *confirmPrompt) abort(err error) {
	p.in.reset()
	reply(p.reply, "", err)
}
