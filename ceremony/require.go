package ceremony

import (
	"fmt"
	"strings"

	"github.com/keyceremony/keyceremony/internal/machine"
)

// RequirePlan is what the plan requires of the machine the ceremony runs on (require:), checked
// before the token is touched. Without it the machine's state is only recorded.
type RequirePlan struct {
	NoNetwork bool `yaml:"no_network"` // no network interface but loopback is up
	NoSwap    bool `yaml:"no_swap"`    // no swap area is on, so no secret can be paged to disk
}

// RequireMachine refuses a machine that the plan's require: section rules out. A state that
// cannot be read counts as not shown to be safe.
func (p *Plan) RequireMachine(m machine.Facts) error {
	unknown := func(list []string) bool { return len(list) == 1 && list[0] == machine.Unknown }
	switch {
	case p.Require.NoNetwork && unknown(m.NetworkUp):
		return fmt.Errorf("the plan requires no network (require.no_network), and this machine's network interfaces cannot be read; nothing was touched\nhint: run the ceremony on Linux, where /sys/class/net says which interfaces are up")
	case p.Require.NoNetwork && len(m.NetworkUp) > 0:
		return fmt.Errorf("the plan requires no network (require.no_network), and %s up on this machine; nothing was touched\nhint: unplug the cable or bring the interface down (ip link set %s down), then run again",
			plural(m.NetworkUp, "interface"), m.NetworkUp[0])
	case p.Require.NoSwap && unknown(m.Swap):
		return fmt.Errorf("the plan requires no swap (require.no_swap), and this machine's swap areas cannot be read; nothing was touched\nhint: run the ceremony on Linux, where /proc/swaps lists them")
	case p.Require.NoSwap && len(m.Swap) > 0:
		return fmt.Errorf("the plan requires no swap (require.no_swap), and swap is on (%s); nothing was touched\nhint: turn it off with swapoff -a, then run again", strings.Join(m.Swap, ", "))
	}
	return nil
}

// plural says "interface eth0 is" or "interfaces eth0, wlan0 are".
func plural(names []string, noun string) string {
	if len(names) == 1 {
		return noun + " " + names[0] + " is"
	}
	return noun + "s " + strings.Join(names, ", ") + " are"
}
