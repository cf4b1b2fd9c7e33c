package ui

import (
	"errors"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/keyceremony/keyceremony/ceremony"
)

// RunCeremony runs the engine (run) under the TUI and returns run's error once the engine and the
// screen are both done. The engine runs in its own goroutine; the Interaction it gets turns each
// call into a message to the Bubble Tea program and waits for the person's answer. The program
// stays in the normal screen (no alternate screen), so script(1) records a readable session.
func RunCeremony(opts Options, run func(ceremony.Interaction) error) error {
	opts = opts.withDefaults()
	m := newRunner(opts.Profile, time.Now, opts.Width, opts.Height)
	var recorded []string
	if opts.Output == os.Stdout { // the person's terminal, not a test's buffer
		recorded = recordingSigns(opts.Output)
	}
	p := tea.NewProgram(m, opts.programOptions()...)
	stop := make(chan struct{})
	engine := startEngine(&bridge{send: p.Send, stop: stop, now: time.Now, recorded: recorded}, run)
	_, uiErr := p.Run()
	close(stop) // an engine still asking now gets ErrAborted instead of waiting for a dead screen
	err := <-engine
	if errors.Is(uiErr, tea.ErrInterrupted) {
		return err // SIGINT: the engine was stopped like a Ctrl+C from the keyboard, and says so
	}
	if uiErr != nil {
		uiErr = fmt.Errorf("the terminal interface failed: %w\nhint: set ACCESSIBLE=1 to run the ceremony with plain line prompts", uiErr)
		return errors.Join(uiErr, err)
	}
	return err
}

// startEngine runs the engine against a bridge to send and reports its result twice: to the
// program, so the screen shows it, and on the returned channel, for the caller.
func startEngine(b *bridge, run func(ceremony.Interaction) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := run(b)
		done <- err
		b.send(engineDoneMsg{err})
	}()
	return done
}

// withDefaults fills in the terminal and its colour profile.
func (o Options) withDefaults() Options {
	if o.Input == nil {
		o.Input = os.Stdin
	}
	if o.Output == nil {
		o.Output = os.Stdout
	}
	if o.Profile == colorprofile.Unknown {
		o.Profile = ProfileFromEnv(o.Output, os.Environ())
	}
	return o
}

func (o Options) programOptions() []tea.ProgramOption {
	opts := []tea.ProgramOption{tea.WithInput(o.Input), tea.WithOutput(o.Output), tea.WithColorProfile(o.Profile)}
	if o.Width > 0 && o.Height > 0 {
		opts = append(opts, tea.WithWindowSize(o.Width, o.Height))
	}
	return opts
}
