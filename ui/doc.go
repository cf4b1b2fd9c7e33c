// Package ui is keyceremony's face: the guided terminal ceremony for custodians, share handout and
// share entry for quorum members, transcript review for auditors, and the same flows as plain line
// prompts for screen readers, pipes and TERM=dumb. It implements issue 6 ("ui") and the UI part of
// docs/architecture.md.
//
// The package holds no ceremony logic: it renders what the engine (package ceremony) tells it
// through ceremony.Interaction and hands back what people type. Status is never shown by colour
// alone, and a ceremony never uses the alternate screen, so a script(1) recording stays readable.
//
// No secret stays on the screen after its step. A PIN is drawn as stars and kept in a []byte that
// is zeroed. A share is shown only after its custodian, alone, presses Enter; when they continue,
// the terminal gets "ESC[H ESC[2J ESC[3J" (home, erase the screen, erase the scrollback: the order
// clear(1) uses, since some terminals push an erased screen into the scrollback) and the next
// frame, which no longer holds the share, is drawn from the top. Share entry is masked unless the
// custodian shows it, and is wiped the same way if it was shown. Line mode shows a share only when
// its output is a terminal, and wipes it the same way.
package ui
