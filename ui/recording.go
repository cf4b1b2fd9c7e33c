package ui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// recorders are programs that record a terminal session, as their command names.
var recorders = map[string]bool{"script": true, "asciinema": true, "ttyrec": true, "termrec": true, "t-rec": true, "vhs": true}

// recordingSigns says why this session looks recorded, so that a share is not shown into a
// recording unawares: a recorder among the processes above this one (read from /proc, so on
// Linux), tmux piping this pane to a command (pipe-pane), or output that is not a terminal.
func recordingSigns(out any) []string {
	var signs []string
	if name := recorderAbove(os.Getpid()); name != "" {
		signs = append(signs, name+" is running above keyceremony")
	}
	if tmuxPiped() {
		signs = append(signs, "tmux pipes this pane to a command (pipe-pane)")
	}
	if !isTerminal(out) {
		signs = append(signs, "the output is not a terminal")
	}
	return signs
}

// recorderAbove walks the parent processes of pid and returns the first recorder's name. An
// interpreted recorder (asciinema is Python) is found by its script's name.
func recorderAbove(pid int) string {
	for range 64 { // a chain longer than this is not a process tree
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return ""
		}
		// The command name in parentheses may hold spaces and parentheses: the fields after the
		// last ')' are "state ppid ...".
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 {
			return ""
		}
		if pid, err = strconv.Atoi(fields[1]); err != nil || pid <= 1 {
			return ""
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		for i, a := range args[:min(len(args), 2)] {
			if name := filepath.Base(a); recorders[name] && (i == 0 || strings.HasPrefix(filepath.Base(args[0]), "python")) {
				return name
			}
		}
	}
	return ""
}

// tmuxPiped reports whether tmux pipes the pane this runs in to a command.
func tmuxPiped() bool {
	pane := os.Getenv("TMUX_PANE")
	if os.Getenv("TMUX") == "" || pane == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "tmux", "display-message", "-p", "-t", pane, "#{pane_pipe}").Output()
	return err == nil && strings.TrimSpace(string(out)) == "1"
}
