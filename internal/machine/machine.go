// Package machine describes the machine a ceremony runs on, for its record: the SHA-256 of the
// running binary and of the PKCS#11 module, the operating system and kernel, which network
// interfaces other than loopback are up, and which swap areas are on. An air-gapped workstation
// should have neither; a plan may require it.
//
// Interfaces and swap are read from Linux's sysfs and procfs (/sys/class/net/*/operstate and
// flags, /proc/swaps), taken as file systems so that tests can give a fake tree. On other
// systems they cannot be read, and the facts say so instead of claiming "none".
package machine

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Facts are what the begin event records of the machine.
type Facts struct {
	OS     string `json:"os"`     // GOOS/GOARCH, "linux/amd64"
	Kernel string `json:"kernel"` // uname: system, release and version; "unknown" where not available
	// NetworkUp lists the interfaces other than loopback that are up; Swap the swap areas on.
	// Each is ["unknown"] when it could not be read.
	NetworkUp []string `json:"network_up"`
	Swap      []string `json:"swap"`
}

// Unknown is the one element of NetworkUp or Swap when it could not be read.
const Unknown = "unknown"

// Read describes this machine: sys and proc are /sys and /proc.
func Read(sys, proc fs.FS) Facts {
	f := Facts{OS: runtime.GOOS + "/" + runtime.GOARCH, Kernel: kernel()}
	var err error
	if f.NetworkUp, err = NetworkUp(sys); err != nil {
		f.NetworkUp = []string{Unknown}
	}
	if f.Swap, err = SwapOn(proc); err != nil {
		f.Swap = []string{Unknown}
	}
	return f
}

// Host describes this machine from the real /sys and /proc.
func Host() Facts { return Read(os.DirFS("/sys"), os.DirFS("/proc")) }

// loopbackType is ARPHRD_LOOPBACK, the type of a loopback interface in sysfs.
const loopbackType = "772"

// iffUp is IFF_UP in an interface's flags.
const iffUp = 0x1

// NetworkUp returns the network interfaces in sys (a sysfs tree) other than loopback that are
// up: operstate "up", or "unknown" (what many virtual and tunnel interfaces report) with the
// administrative IFF_UP flag set. "dormant", "lowerlayerdown" and "down" do not count.
func NetworkUp(sys fs.FS) ([]string, error) {
	entries, err := fs.ReadDir(sys, "class/net")
	if err != nil {
		return nil, fmt.Errorf("cannot list the network interfaces: %w", err)
	}
	up := []string{}
	for _, e := range entries {
		name := e.Name()
		if typ, _ := readLine(sys, "class/net/"+name+"/type"); typ == loopbackType {
			continue
		}
		state, err := readLine(sys, "class/net/"+name+"/operstate")
		if err != nil {
			return nil, fmt.Errorf("cannot read the state of interface %s: %w", name, err)
		}
		switch state {
		case "up":
		case "unknown":
			flags, err := readLine(sys, "class/net/"+name+"/flags")
			n, perr := strconv.ParseUint(strings.TrimPrefix(flags, "0x"), 16, 32)
			if err != nil || perr != nil {
				return nil, fmt.Errorf("cannot read the flags of interface %s", name)
			}
			if n&iffUp == 0 {
				continue
			}
		default:
			continue
		}
		up = append(up, name)
	}
	slices.Sort(up)
	return up, nil
}

// SwapOn returns the swap areas listed in proc's "swaps" (a procfs tree).
func SwapOn(proc fs.FS) ([]string, error) {
	f, err := proc.Open("swaps")
	if err != nil {
		return nil, fmt.Errorf("cannot read the swap areas: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "Filename") {
		return nil, errors.New("cannot read the swap areas: swaps has no header line")
	}
	on := []string{}
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 0 {
			on = append(on, fields[0])
		}
	}
	return on, sc.Err()
}

func readLine(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// FileSHA256 returns the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BinarySHA256 returns the hex SHA-256 of the running binary.
func BinarySHA256() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the running binary: %v", err)
	}
	sum, err := FileSHA256(exe)
	if err != nil {
		return "", fmt.Errorf("cannot read the running binary %s: %v", exe, err)
	}
	return sum, nil
}
