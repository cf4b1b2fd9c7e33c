package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

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
	top      int // the first line of the detail shown, when the screen cannot hold all of it
}

func newConfirmPrompt(m confirmMsg) *confirmPrompt {
	return &confirmPrompt{req: m.req, reply: m.reply, mismatch: m.req.LastError}
}

func (p *confirmPrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		step := map[rune]int{tea.KeyUp: -1, tea.KeyDown: 1, tea.KeyPgUp: -10, tea.KeyPgDown: 10}[k.Code]
		if step != 0 {
			p.top = max(p.top+step, 0) // lines stops it at the end
			return nil, false
		}
	}
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
	if p.req.TypeBack && p.req.Large != "" {
		return p.req.Actor.String() + ": type it back from the paper and press Enter. Case and spaces do not matter."
	}
	if p.req.Reason {
		return p.req.Actor.String() + ": type it and press Enter."
	}
	if p.req.TypeBack {
		return p.req.Actor.String() + ": type back what is read aloud, group by group, then press Enter. Case, spaces and dashes do not matter."
	}
	return p.req.Actor.String() + ": type yes and press Enter to confirm."
}

func (p *confirmPrompt) lines(th theme, width, height int) []string {
	var head, body, foot []string
	for _, l := range wrap(p.req.Prompt, width) {
		head = append(head, th.title.Render(l))
	}
	if p.req.Detail != "" {
		for _, para := range strings.Split(p.req.Detail, "\n") {
			body = append(body, wrap(para, width)...)
		}
	}
	if p.req.Large != "" { // never scrolled away
		foot = append(foot, "")
		foot = append(foot, bigLines(th, p.req.Large, width, height)...)
	}
	foot = append(foot, "")
	foot = append(foot, wrap(p.instruction(), width)...)
	foot = append(foot, p.in.view(th))
	if p.mismatch != "" {
		for _, l := range wrap("✗ "+p.mismatch, width) {
			foot = append(foot, th.bad.Render(l))
		}
	}
	// What is to be confirmed scrolls when the screen cannot hold it; the question and its
	// input line stay.
	room := height - len(head) - len(foot) - 1
	p.top = min(p.top, max(len(body)-room, 0)) // the model is a pointer: the scroll stops at the end
	if room > 0 && len(body) > room {
		more := fmt.Sprintf("↑/↓ for more: lines %d-%d of %d", p.top+1, p.top+room, len(body))
		body = append(body[p.top:p.top+room:p.top+room], th.dim.Render(ansi.Truncate(more, width, "…")))
	}
	return append(append(head, body...), foot...)
}

func (p *confirmPrompt) fullScreen() bool { return false }

func (p *confirmPrompt) keys() []keyHelp { return editKeys }

func (p *confirmPrompt) literal() bool { return p.req.Reason }

func (p *confirmPrompt) abort(err error) {
	p.in.reset()
	reply(p.reply, "", err)
}
