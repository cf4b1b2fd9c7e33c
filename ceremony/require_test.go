package ceremony

import (
	"testing"
	"testing/fstest"

	"github.com/keyceremony/keyceremony/internal/machine"
)

// The machine is described from fake sysfs and procfs trees (swap cannot be turned on in a
// test; the network refusal is also tested for real in a network namespace, evidence.txt).
func TestRequireMachine(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	airgapped := fstest.MapFS{
		"class/net/lo/type": file("772\n"), "class/net/lo/operstate": file("unknown\n"), "class/net/lo/flags": file("0x9\n"),
		"class/net/eth0/type": file("1\n"), "class/net/eth0/operstate": file("down\n"), "class/net/eth0/flags": file("0x1002\n"),
	}
	connected := fstest.MapFS{
		"class/net/eth0/type": file("1\n"), "class/net/eth0/operstate": file("up\n"), "class/net/eth0/flags": file("0x1003\n"),
		"class/net/wlan0/type": file("1\n"), "class/net/wlan0/operstate": file("up\n"), "class/net/wlan0/flags": file("0x1003\n"),
	}
	noSwap := fstest.MapFS{"swaps": file("Filename\tType\tSize\tUsed\tPriority\n")}
	swap := fstest.MapFS{"swaps": file("Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 8388604 0 -2\n")}
	strict := &Plan{Require: RequirePlan{NoNetwork: true, NoSwap: true}}
	for _, c := range []struct {
		what      string
		plan      *Plan
		sys, proc fstest.MapFS
		want      string
	}{
		{"air-gapped", strict, airgapped, noSwap, ""},
		{"no requirement", &Plan{}, connected, swap, ""},
		{"network up", strict, connected, noSwap, "the plan requires no network (require.no_network), and interfaces eth0, wlan0 are up on this machine; nothing was touched\nhint: unplug the cable or bring the interface down (ip link set eth0 down), then run again"},
		{"swap on", strict, airgapped, swap, "the plan requires no swap (require.no_swap), and swap is on (/dev/sda2); nothing was touched\nhint: turn it off with swapoff -a, then run again"},
		{"swap only required", &Plan{Require: RequirePlan{NoSwap: true}}, connected, swap, "the plan requires no swap (require.no_swap), and swap is on (/dev/sda2); nothing was touched\nhint: turn it off with swapoff -a, then run again"},
		{"no sysfs", strict, fstest.MapFS{}, noSwap, "the plan requires no network (require.no_network), and this machine's network interfaces cannot be read; nothing was touched\nhint: run the ceremony on Linux, where /sys/class/net says which interfaces are up"},
		{"no procfs", strict, airgapped, fstest.MapFS{}, "the plan requires no swap (require.no_swap), and this machine's swap areas cannot be read; nothing was touched\nhint: run the ceremony on Linux, where /proc/swaps lists them"},
	} {
		err := c.plan.RequireMachine(machine.Read(c.sys, c.proc))
		if got := ""; err != nil {
			got = err.Error()
			if got != c.want {
				t.Errorf("%s: %q\nwant %q", c.what, got, c.want)
			}
		} else if c.want != "" {
			t.Errorf("%s: accepted, want %q", c.what, c.want)
		}
	}
}
