package ui

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/keyceremony/keyceremony/backup"
	"github.com/keyceremony/keyceremony/ceremony"
)

// sharePrompt takes a share back from a custodian one line at a time. Each finished line is
// checked at once with backup.CheckTypedLine, so a typo is named by its line while the custodian
// still has the paper in hand; the whole share is checked by the engine, whose verdict comes back
// as the next request's LastError. Typing is masked unless the custodian shows it with Tab.
type sharePrompt struct {
	req      ceremony.ShareRequest
	reply    chan<- answer[string]
	accepted []string // lines that passed their check
	index    int      // the share's number, once line 1 gave it
	in       field
	problem  string // why the last finished line was refused, naming it, with its hint
	shown    bool   // the share was visible at some point, so the screen must be wiped after
}

func newSharePrompt(m shareMsg) *sharePrompt {
	return &sharePrompt{req: m.req, reply: m.reply, in: field{masked: true}}
}

// lineNo is the 1-based number of the line being typed.
func (p *sharePrompt) lineNo() int { return len(p.accepted) + 1 }

func (p *sharePrompt) update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		// A pasted share arrives whole: each line break ends a line, as Enter would. Terminals
		// send a pasted line break as CR. A refused line stays to be fixed; the rest is dropped.
		content := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(msg.Content)
		parts := strings.Split(strings.TrimRight(content, "\n"), "\n")
		for i, part := range parts {
			p.in.insert(part)
			if i == len(parts)-1 && !strings.HasSuffix(content, "\n") {
				break // the last line waits for Enter
			}
			if cmd, done := p.enter(); done || p.problem != "" {
				return cmd, done
			}
		}
	case tea.KeyPressMsg:
		switch {
		case msg.Code == tea.KeyEnter:
			return p.enter()
		case msg.Code == tea.KeyTab:
			p.in.masked = !p.in.masked
			p.shown = p.shown || !p.in.masked
		case msg.Code == tea.KeyBackspace && p.in.empty() && len(p.accepted) > 0:
			// Back into the line above, to fix a line that passed its check but is still wrong.
			last := p.accepted[len(p.accepted)-1]
			p.accepted = p.accepted[:len(p.accepted)-1]
			p.in.insert(last)
		default:
			p.in.key(msg)
		}
	}
	return nil, false
}

// enter finishes the line being typed: an age file reference or an empty line ends the share,
// anything else is checked and kept or refused.
func (p *sharePrompt) enter() (tea.Cmd, bool) {
	line := strings.TrimSpace(p.in.text())
	path, isPath := sharePath(line)
	switch {
	case len(p.accepted) == 0 && isPath:
		return p.submit("file:" + path)
	case line == "":
		p.problem = fmt.Sprintf("Type line %d of your share, or the path of your share file.", p.lineNo())
	default:
		index, err := checkShareLine(p.req, p.lineNo(), line, p.index)
		if err != nil {
			p.problem = err.Error()
			if name := fmt.Sprintf("line %d", p.lineNo()); !strings.HasPrefix(p.problem, name) {
				p.problem = name + ": " + p.problem // the wrong line is always named
			}
			return nil, false
		}
		p.index = index
		p.accepted = append(p.accepted, line)
		p.in.reset()
		p.problem = ""
		if len(p.accepted) == backup.TypedLines {
			return p.submit(strings.Join(p.accepted, "\n"))
		}
	}
	return nil, false
}

func (p *sharePrompt) submit(share string) (tea.Cmd, bool) {
	reply(p.reply, share, nil)
	p.accepted, p.index = nil, 0
	p.in.reset()
	if p.shown {
		return clearSecretScreen(), true
	}
	return nil, true
}

// live says, while a line is typed, whether it already passes its check.
func (p *sharePrompt) live() bool {
	line := strings.TrimSpace(p.in.text())
	if _, isPath := sharePath(line); line == "" || isPath && p.lineNo() == 1 {
		return false
	}
	_, err := checkShareLine(p.req, p.lineNo(), line, p.index)
	return err == nil
}

func (p *sharePrompt) lines(th theme, width, height int) []string {
	head := []string{th.title.Render(shareTitle(p.req)), shareWho(p.req)}
	if p.req.Accepted != "" {
		head = append(head, wrap(th.ok.Render("✓ "+p.req.Accepted), width)...)
	}
	if p.req.LastError != "" {
		head = append(head, problemLines(th, "The last share was refused: "+p.req.LastError, width)...)
	}
	label := "  line %d  "
	if width < 50 {
		label = "%d "
	}
	var entry []string
	for i, l := range p.accepted {
		shown := l
		if p.in.masked {
			shown = strings.Repeat("*", len([]rune(l)))
		}
		entry = append(entry, fmt.Sprintf(label, i+1)+shown+"  "+th.ok.Render("✓ checks out"))
	}
	cur := fmt.Sprintf(label, p.lineNo()) + p.in.view(th)
	if p.live() {
		cur += "  " + th.ok.Render("✓ checks out, press Enter")
	}
	entry = append(entry, cur)
	for _, l := range problemLines(th, p.problem, width-2) {
		entry = append(entry, "  "+l)
	}
	mask := "Tab: show what you type"
	if !p.in.masked {
		mask = "Tab: hide what you type"
	}
	help := wrap(shareHelp(true), width)
	keys := wrap(th.dim.Render(mask+" · ←/→: move · Backspace on an empty line: the line above"), width)
	// On a small screen the lines being entered, their problems and the title come first; the
	// instructions go, then the keys (the help overlay still has them).
	switch n := len(head) + len(entry); {
	case n+len(help)+len(keys)+3 <= height:
		return slices.Concat(head, []string{""}, help, []string{""}, entry, []string{""}, keys)
	case n+len(keys) <= height:
		return slices.Concat(head, entry, keys)
	case n > height:
		return slices.Concat(head[:1], entry[max(len(entry)-(height-1), 0):])
	}
	return slices.Concat(head, entry)
}

func shareTitle(r ceremony.ShareRequest) string {
	if r.Progress != "" {
		return "Enter a share · " + r.Progress
	}
	return "Enter a share"
}

func shareWho(r ceremony.ShareRequest) string {
	if r.Custodian.Name == "" {
		return "Who: any quorum member, alone at the screen"
	}
	return "Who: " + r.Custodian.String() + ", alone at the screen"
}

func (p *sharePrompt) fullScreen() bool { return true }

func (p *sharePrompt) keys() []keyHelp {
	return append([]keyHelp{
		{"Tab", "show or hide what you type"},
		{"Backspace", "on an empty line: back into the line above, to fix it"},
		{"Paste", "a whole share at once, or the path of a share file (quoted or not)"},
	}, editKeys...)
}

// literal: a share file's path may hold any character.
func (p *sharePrompt) literal() bool { return !p.in.empty() }

func (p *sharePrompt) abort(err error) {
	p.accepted, p.index = nil, 0
	p.in.reset()
	reply(p.reply, "", err)
}

// problemLines renders an error text as a person reads it: the first line marked ✗, "hint:" lines
// as plain advice below it.
func problemLines(th theme, text string, width int) []string {
	if text == "" {
		return nil
	}
	var out []string
	for i, line := range strings.Split(text, "\n") {
		style, mark := th.bad, "  "
		if hint, ok := strings.CutPrefix(line, "hint: "); ok {
			style, line = th.dim, hint
		} else if i == 0 {
			mark = "✗ "
		}
		for j, l := range wrap(line, width-2) {
			if j > 0 {
				mark = "  "
			}
			out = append(out, style.Render(mark+l))
		}
	}
	return out
}
