package machine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"testing"
	"testing/fstest"
)

func iface(fsys fstest.MapFS, name, typ, state, flags string) {
	fsys["class/net/"+name+"/type"] = &fstest.MapFile{Data: []byte(typ + "\n")}
	fsys["class/net/"+name+"/operstate"] = &fstest.MapFile{Data: []byte(state + "\n")}
	fsys["class/net/"+name+"/flags"] = &fstest.MapFile{Data: []byte(flags + "\n")}
}

// A fake sysfs tree: the detection is tested on every state the kernel reports.
func TestNetworkUp(t *testing.T) {
	sys := fstest.MapFS{}
	iface(sys, "lo", "772", "unknown", "0x9")        // loopback, up: never counted
	iface(sys, "eth0", "1", "up", "0x1003")          // cable in
	iface(sys, "eth1", "1", "down", "0x1002")        // no carrier
	iface(sys, "wlan0", "1", "dormant", "0x1003")    // not associated
	iface(sys, "tun0", "65534", "unknown", "0x1091") // a VPN tunnel, up
	iface(sys, "tap0", "1", "unknown", "0x1002")     // configured, not up
	iface(sys, "usb0", "1", "lowerlayerdown", "0x1003")
	up, err := NetworkUp(sys)
	if err != nil || !slices.Equal(up, []string{"eth0", "tun0"}) {
		t.Fatalf("NetworkUp = %q, %v; want eth0 and tun0", up, err)
	}
	only := fstest.MapFS{}
	iface(only, "lo", "772", "unknown", "0x9")
	iface(only, "eth0", "1", "down", "0x1002")
	if up, err := NetworkUp(only); err != nil || len(up) != 0 || up == nil {
		t.Fatalf("an air-gapped machine: NetworkUp = %#v, %v; want an empty list", up, err)
	}
	if _, err := NetworkUp(fstest.MapFS{}); err == nil {
		t.Fatal("no sysfs: NetworkUp did not fail")
	}
	broken := fstest.MapFS{"class/net/eth0/type": &fstest.MapFile{Data: []byte("1\n")}}
	if _, err := NetworkUp(broken); err == nil || err.Error() != "cannot read the state of interface eth0: open class/net/eth0/operstate: file does not exist" {
		t.Fatalf("an interface without operstate: %v", err)
	}
	f := Read(fstest.MapFS{}, fstest.MapFS{})
	if !slices.Equal(f.NetworkUp, []string{Unknown}) || !slices.Equal(f.Swap, []string{Unknown}) {
		t.Fatalf("unreadable trees must say unknown, not none: %+v", f)
	}
}

func TestSwapOn(t *testing.T) {
	for data, want := range map[string][]string{
		"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n":                                                    {},
		"Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 8388604 0 -2\n/swapfile file 1048572 0 -3\n": {"/dev/sda2", "/swapfile"},
	} {
		on, err := SwapOn(fstest.MapFS{"swaps": &fstest.MapFile{Data: []byte(data)}})
		if err != nil || !slices.Equal(on, want) {
			t.Errorf("SwapOn(%q) = %q, %v; want %q", data, on, err, want)
		}
	}
	if _, err := SwapOn(fstest.MapFS{"swaps": &fstest.MapFile{Data: []byte("garbage\n")}}); err == nil {
		t.Error("a swaps file without its header was read")
	}
}

func TestHostAndBinary(t *testing.T) {
	f := Host()
	if f.OS == "" || f.Kernel == "" || f.NetworkUp == nil || f.Swap == nil {
		t.Fatalf("Host() = %+v", f)
	}
	sum, err := BinarySHA256()
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	data, _ := os.ReadFile(exe)
	want := sha256.Sum256(data)
	if sum != hex.EncodeToString(want[:]) {
		t.Fatalf("BinarySHA256 = %s, the test binary's is %x", sum, want)
	}
}
