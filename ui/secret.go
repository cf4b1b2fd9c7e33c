package ui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/ceremony"
)

// secretPrompt asks for a PIN or passphrase. It is only ever drawn as one * per character, and the
// field is zeroed when the answer is handed over or the prompt is dropped.
type secretPrompt struct {
	req   ceremony.SecretRequest
	reply chan<- answer[[]byte]
	in    field
	hint  string
}

func newSecretPrompt(m secretMsg) *secretPrompt {
	return &secretPrompt{req: m.req, reply: m.reply, in: field{masked: true}}
}

func (p *secretPrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	if !p.in.edit(msg) {
		p.hint = ""
		return nil, false
	}
	if p.in.empty() {
		p.hint = "Nothing typed yet."
		return nil, false
	}
	reply(p.reply, p.in.take(), nil)
	return nil, true
}

func (p *secretPrompt) lines(th theme, width, _ int) []string {
	out := wrap(th.title.Render(p.req.Actor.String()+": "+p.req.Prompt), width)
	out = append(out, p.in.view(th))
	out = append(out, wrap(th.dim.Render("Type it and press Enter. It is never shown; Esc clears it."), width)...)
	if p.hint != "" {
		out = append(out, th.warn.Render("! "+p.hint))
	}
	return out
}

func (p *secretPrompt) fullScreen() bool { return false }

func (p *secretPrompt) keys() []keyHelp { return editKeys }

func (p *secretPrompt) literal() bool { return true }

func (p *secretPrompt) abort(err error) {
	p.in.reset()
	reply(p.reply, nil, err)
}
