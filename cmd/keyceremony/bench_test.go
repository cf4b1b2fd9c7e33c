//go:build cgo

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"github.com/keyceremony/keyceremony/internal/benchplan"
	"github.com/keyceremony/keyceremony/internal/softhsmtest"
)

// BenchmarkRunPeakMemory runs keyceremony run --yes, as a child process, on the scale
// benchmark's plan (internal/benchplan: 100 AES-256 keys, three targets each, one shared share
// set) and reports the child's peak resident set size, as getrusage reads it from outside, and
// the peak of its Go heap. The goal is below 64 MiB. The binary is $KEYCEREMONY_BENCH_BINARY
// (scripts/bench builds it), or one built here.
func BenchmarkRunPeakMemory(b *testing.B) {
	bin := os.Getenv("KEYCEREMONY_BENCH_BINARY")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "keyceremony")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	var peak memoryPeak
	for range b.N {
		b.StopTimer()
		f := benchFixture(b, benchplan.Keys)
		b.StartTimer()
		m := runMeasured(b, f, bin)
		peak.rss, peak.heap = max(peak.rss, m.rss), max(peak.heap, m.heap)
	}
	b.ReportMetric(peak.rss, "peak-RSS-MiB")
	b.ReportMetric(peak.heap, "peak-heap-MiB")
}

// memoryPeak is what a run of the ceremony held at most, in MiB.
type memoryPeak struct {
	rss  float64 // resident set size (ru_maxrss)
	heap float64 // Go heap: the largest heap a garbage collection started or ended with
}

// gcLine is a GODEBUG=gctrace=1 line's heap sizes: at the start of the collection, at its end,
// and live (MiB; the runtime writes MB for 2^20 bytes).
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @.* (\d+)->(\d+)->(\d+) MB`)

func benchFixture(tb testing.TB, keys int) *benchplan.Fixture {
	tb.Helper()
	f, err := benchplan.Write(tb.TempDir(), softhsmtest.NewToken(tb, "bench"), "bench", keys)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// runMeasured runs the ceremony of f headless with the keyceremony binary bin (the test binary
// runs as keyceremony when bin is os.Args[0]) and measures its memory. The heap is read from
// the runtime's garbage collection trace; a run too small to collect even once held less than
// the first collection's goal, 4 MiB, which is what it reports then.
func runMeasured(tb testing.TB, f *benchplan.Fixture, bin string) memoryPeak {
	tb.Helper()
	args := []string{"run", f.Plan, "--yes", "--pin-env", "BENCH_PIN", "--so-pin-env", "BENCH_SO_PIN"}
	for _, id := range f.IdentityFiles {
		args = append(args, "--identity", id)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "BENCH_PIN="+softhsmtest.PIN, "BENCH_SO_PIN="+softhsmtest.SOPIN, "GODEBUG=gctrace=1")
	if bin == os.Args[0] {
		cmd.Env = append(cmd.Env, cliEnv+"=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("keyceremony run: %v\n%s", err, stderr.Bytes())
	}
	m := memoryPeak{rss: float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024, heap: 4}
	for _, gc := range gcLine.FindAllSubmatch(stderr.Bytes(), -1) {
		for _, mb := range gc[1:3] {
			n, _ := strconv.Atoi(string(mb))
			m.heap = max(m.heap, float64(n))
		}
	}
	return m
}

// TestBenchRunPeakMemory runs the memory measurement on a plan of two keys with the test binary
// as keyceremony: the ceremony must finish and verify, and its peak RSS be read.
func TestBenchRunPeakMemory(t *testing.T) {
	f := benchFixture(t, 2)
	m := runMeasured(t, f, os.Args[0])
	if m.rss < 1 {
		t.Errorf("peak RSS %.2f MiB: not measured", m.rss)
	}
	t.Logf("two keys: peak RSS %.1f MiB, Go heap peak %.0f MiB", m.rss, m.heap)
	out, errOut, code := keyceremonyProcess(t, filepath.Dir(f.Plan), "verify", f.Output)
	if code != 0 {
		t.Fatalf("verify: %s%s", out, errOut)
	}
}
