package testcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// stateRoot holds one directory and one lock file per slot. It must be
// traversable by the mysql user, so it is not under a 0700 t.TempDir().
const stateRoot = "/tmp/galera-sentinel-test"

const maxSlots = 200

// A slot is the unit of isolation between clusters that run at the same
// time, in one test binary or in several (go test runs packages in
// parallel). Slot n owns the addresses 127.77.n.0/24 and 10.213.n.0/24, the
// network namespaces gst<n>-*, the bridge gstb<n>, the iptables rules
// commented gst-slot-<n> and the directory stateRoot/slot-<n>. It is held by
// an flock, which the kernel releases when the process dies, so a crashed
// run can never keep a slot; whoever takes the slot next sweeps what the
// crashed run left behind before using it.
type slot struct {
	n    int
	lock *os.File
	dir  string
}

func acquireSlot() (*slot, error) {
	if err := os.MkdirAll(stateRoot, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", stateRoot, err)
	}
	// MkdirAll leaves an existing directory's mode alone; the mysql user
	// must be able to traverse it.
	if err := os.Chmod(stateRoot, 0o755); err != nil {
		return nil, err
	}
	for n := 1; n <= maxSlots; n++ {
		s, err := lockSlot(n)
		if err != nil {
			return nil, err
		}
		if s != nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("all %d test cluster slots are in use", maxSlots)
}

// lockSlot takes slot n and sweeps it, or returns nil when another
// process holds it.
func lockSlot(n int) (*slot, error) {
	f, err := os.OpenFile(filepath.Join(stateRoot, fmt.Sprintf("slot-%d.lock", n)), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock slot %d: %w", n, err)
	}
	s := &slot{n: n, lock: f, dir: filepath.Join(stateRoot, fmt.Sprintf("slot-%d", n))}
	if err := s.sweep(); err != nil {
		s.release()
		return nil, fmt.Errorf("sweep leftovers of slot %d: %w", n, err)
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

func (s *slot) release() {
	s.lock.Close() // closing the descriptor drops the flock
}

func (s *slot) comment() string       { return fmt.Sprintf("gst-slot-%d", s.n) }
func (s *slot) netnsPrefix() string   { return fmt.Sprintf("gst%d-", s.n) }
func (s *slot) bridge() string        { return fmt.Sprintf("gstb%d", s.n) }
func (s *slot) netns(i int) string    { return fmt.Sprintf("gst%d-%d", s.n, i) }
func (s *slot) hostVeth(i int) string { return fmt.Sprintf("gst%dv%d", s.n, i) }

// sweep removes everything a previous holder of this slot may have left:
// processes whose command line mentions the slot directory (mariadbd, the
// SST script, its rsync daemon), network namespaces, the bridge, iptables
// rules, and the directory itself. It is safe on a clean slot.
func (s *slot) sweep() error {
	var errs []error
	killByCmdline(s.dir + "/")
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
			if strings.HasPrefix(name, s.netnsPrefix()) {
				if err := run("ip", "netns", "del", name); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	// A namespace outlives "ip netns del" while the kernel still holds
	// sockets in it (a partition leaves TCP retransmitting for minutes),
	// and its veth pair with it: delete the host ends, which takes the
	// pair, or the next cluster on this slot cannot create them.
	if links, err := os.ReadDir("/sys/class/net"); err == nil {
		for _, l := range links {
			if strings.HasPrefix(l.Name(), fmt.Sprintf("gst%dv", s.n)) {
				err := run("ip", "link", "del", l.Name())
				if _, serr := os.Stat("/sys/class/net/" + l.Name()); err != nil && serr == nil {
					errs = append(errs, err) // not gone by itself meanwhile
				}
			}
		}
	}
	if _, err := os.Stat("/sys/class/net/" + s.bridge()); err == nil {
		if err := run("ip", "link", "del", s.bridge()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := deleteIptablesRules("", s.comment()); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killByCmdline kills (SIGKILL) every process whose command line contains
// needle, and waits briefly for them to go away. Stopped processes die too:
// SIGKILL does not need SIGCONT.
func killByCmdline(needle string) {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte(needle)) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			pids = append(pids, pid)
		}
	}
	// A zombie whose parent is gone is reaped by init; one whose parent
	// is us is reaped by exec.Cmd.Wait elsewhere: waitGone counts it gone.
	for _, pid := range pids {
		waitGone(pid)
	}
}

// deleteIptablesRules deletes every rule carrying comment, in the root
// network namespace when netns is empty, else inside netns.
func deleteIptablesRules(netns, comment string) error {
	prefix := []string{}
	if netns != "" {
		prefix = []string{"ip", "netns", "exec", netns}
	}
	list := append(append([]string{}, prefix...), "iptables", "-S")
	out, err := exec.Command(list[0], list[1:]...).Output()
	if err != nil {
		return fmt.Errorf("iptables -S: %w", err)
	}
	var errs []error
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, "--comment "+comment+" ") && !strings.HasSuffix(line, "--comment "+comment) {
			continue
		}
		args := strings.Fields("-D " + strings.TrimPrefix(line, "-A "))
		del := append(append(append([]string{}, prefix...), "iptables"), args...)
		if err := run(del[0], del[1:]...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
