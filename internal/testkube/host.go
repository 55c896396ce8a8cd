package testkube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What the cluster creates on the host, outside its state root. Sweep
// removes each of these, and nothing else.
const (
	// Bridge joins the pods' veths; it holds NodeIP, where the kubelet,
	// the apiserver and CoreDNS listen.
	Bridge = "gskube0"
	// Dummy holds the route for ServiceCIDR, so that a Service address
	// never follows the default route off this machine, even when
	// kube-proxy is down (its DNAT rules are then simply absent). It is a
	// dummy interface, or an ifb one where the kernel has no dummy driver
	// (these machines): both drop whatever is sent to them.
	Dummy = "gskube-svc0"
	// GuardChain, in the mangle table's FORWARD (seen before any filter
	// rule, so kube-proxy's ACCEPTs cannot come first), drops every
	// forwarded packet that enters or leaves the bridge from or to another
	// interface: pods reach each other and this host, nothing else.
	GuardChain = "GSKUBE-GUARD"
	// cgroupName is the kubelet's cgroupRoot in every hierarchy.
	cgroupName = "galera-sentinel-kube"
	// cniNetwork names the CNI network (and its cache entries).
	cniNetwork = "gskube"
)

// iptablesPrefixes are the chains the cluster owns: ours, kube-proxy's and
// the kubelet's.
var iptablesPrefixes = []string{"GSKUBE-", "KUBE-"}

// run runs a host command, bounded by ctx or, when ctx has no deadline,
// by a minute.
func run(ctx context.Context, name string, args ...string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// setupNetwork makes the bridge, the Service route and the guard chain, and
// turns on IPv4 forwarding (pod → ClusterIP → pod is routed through the
// host). The old forwarding setting is kept in the state root and restored
// by Sweep.
func setupNetwork(ctx context.Context, root string) error {
	old, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "ip_forward.saved"), old, 0o600); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "link", "add", Bridge, "type", "bridge"},
		{"ip", "addr", "add", NodeIP + "/24", "dev", Bridge},
		{"ip", "link", "set", Bridge, "up"},
		{"ip", "link", "set", Dummy, "up"},
		{"ip", "route", "add", ServiceCIDR, "dev", Dummy},
		{"iptables", "-w", "-t", "mangle", "-N", GuardChain},
		{"iptables", "-w", "-t", "mangle", "-A", GuardChain, "-i", Bridge, "-o", Bridge, "-j", "RETURN"},
		{"iptables", "-w", "-t", "mangle", "-A", GuardChain, "-i", Bridge, "-j", "DROP"},
		{"iptables", "-w", "-t", "mangle", "-A", GuardChain, "-o", Bridge, "-j", "DROP"},
		{"iptables", "-w", "-t", "mangle", "-I", "FORWARD", "1", "-j", GuardChain},
	}
	if _, err := run(ctx, "ip", "link", "add", Dummy, "type", "dummy"); err != nil {
		if _, err2 := run(ctx, "ip", "link", "add", Dummy, "type", "ifb"); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	for _, s := range steps {
		if _, err := run(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	// Bridged pod-to-pod traffic must pass through iptables, or replies
	// from a Service's endpoint on the same bridge skip the reverse DNAT.
	for path, v := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                "1",
		"/proc/sys/net/bridge/bridge-nf-call-iptables": "1",
	} {
		if err := os.WriteFile(path, []byte(v), 0o644); err != nil {
			return fmt.Errorf("set %s: %w", path, err)
		}
	}
	return nil
}

// Sweep removes everything a cluster (this run's or a crashed earlier
// one's) left on the host: its processes and the pods' processes, mounts
// under the state root, the pods' network namespaces, the bridge and the
// dummy interface, the iptables chains, the cgroups, and the state root
// itself. Every step is tried; the errors are joined.
func Sweep(ctx context.Context, root string) error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	killMarked(root)
	add(killCgroups())
	add(deleteNetns(ctx, podNetPrefix, true))
	add(deleteNodes(ctx))
	add(unmountUnder(root))
	for _, l := range []string{Bridge, Dummy} {
		if _, err := os.Stat("/sys/class/net/" + l); err == nil {
			_, err := run(ctx, "ip", "link", "del", l)
			add(err)
		}
	}
	add(cleanIptables(ctx))
	if b, err := os.ReadFile(filepath.Join(root, "ip_forward.saved")); err == nil {
		add(os.WriteFile("/proc/sys/net/ipv4/ip_forward", bytes.TrimSpace(b), 0o644))
	}
	add(removeCgroups())
	add(removeLogLinks(root))
	if err := os.RemoveAll(root); err != nil {
		// A mount we could not take off keeps files busy: say which.
		add(fmt.Errorf("remove %s: %w", root, err))
	}
	return errors.Join(errs...)
}

// killMarked SIGKILLs every process whose command line names the state
// root: our daemons and containerd's shims all do, nothing else does.
func killMarked(root string) {
	self := os.Getpid()
	for i := 0; i < 20; i++ {
		found := false
		for _, pid := range pids() {
			if pid == self {
				continue
			}
			cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !bytes.Contains(cmd, []byte(root)) {
				continue
			}
			found = true
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if !found {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// cgroupDirs lists our cgroups in every hierarchy, deepest first.
func cgroupDirs() []string {
	var dirs []string
	hier, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupName)
	if _, err := os.Stat("/sys/fs/cgroup/" + cgroupName); err == nil {
		hier = append(hier, "/sys/fs/cgroup/"+cgroupName) // cgroup v2
	}
	for _, h := range hier {
		_ = filepath.WalkDir(h, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	return dirs
}

// thawCgroups thaws every frozen cgroup of ours (FreezePod): a process
// in a frozen cgroup does not die of SIGKILL until it is thawed.
func thawCgroups() {
	for _, d := range cgroupDirs() {
		if b, err := os.ReadFile(filepath.Join(d, "freezer.state")); err == nil && strings.TrimSpace(string(b)) != "THAWED" {
			_ = os.WriteFile(filepath.Join(d, "freezer.state"), []byte("THAWED"), 0o644)
		}
	}
}

// killCgroups SIGKILLs every process in the kubelet's cgroups: the pods'
// containers, which outlive containerd and its shims.
func killCgroups() error {
	thawCgroups()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := 0
		for _, d := range cgroupDirs() {
			b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					// A frozen (SIGSTOPped) process dies of SIGKILL too.
					_ = syscall.Kill(pid, syscall.SIGKILL)
					left++
				}
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still in %s cgroups", left, cgroupName)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func removeCgroups() error {
	var errs []error
	for _, d := range cgroupDirs() {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// makeCgroups creates the kubelet's cgroupRoot in every v1 hierarchy (the
// kubelet refuses a root that does not exist), and below it the cgroups
// in more (relative to the hierarchy, parents first: the worker nodes').
// cpuset needs its cpus and mems copied from the parent before anything
// can join it.
func makeCgroups(more ...string) error {
	hier, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		return err
	}
	for _, h := range hier {
		if fi, err := os.Stat(h); err != nil || !fi.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err != nil {
			continue
		}
		for _, rel := range append([]string{cgroupName}, more...) {
			d := filepath.Join(h, rel)
			if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
				return fmt.Errorf("make cgroup %s: %w", d, err)
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if b, err := os.ReadFile(filepath.Join(filepath.Dir(d), f)); err == nil {
					if err := os.WriteFile(filepath.Join(d, f), b, 0o644); err != nil {
						return fmt.Errorf("%s: %w", filepath.Join(d, f), err)
					}
				}
			}
		}
	}
	return nil
}

// podNetPrefix starts every pod address, the host's and the nodes'.
const podNetPrefix = "10.217."

// deleteNetns removes the pods' network namespaces. containerd 1.6 names
// them /run/netns/cni-<uuid> whoever runs it; ours are the ones with an
// address that starts with prefix.
// A namespace with no address at all (a sandbox not set up yet, or torn
// down) is taken too when emptyToo says so: at a sweep, when nothing of
// ours runs.
func deleteNetns(ctx context.Context, prefix string, emptyToo bool) error {
	ns, _ := filepath.Glob("/run/netns/cni-*")
	var errs []error
	for _, p := range ns {
		name := filepath.Base(p)
		out, _ := run(ctx, "ip", "-n", name, "-4", "-o", "addr")
		if (out == "" && !emptyToo) || (out != "" && !strings.Contains(out, " "+prefix)) {
			continue // someone else's
		}
		if _, err := run(ctx, "ip", "netns", "delete", name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unmountUnder lazily unmounts everything mounted at or below root,
// deepest first (containerd's overlays and shm, the kubelet's tmpfs for
// Secrets and projected tokens).
func unmountUnder(root string) error {
	var errs []error
	for i := 0; i < 5; i++ {
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			return err
		}
		var points []string
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) < 5 {
				continue
			}
			p := unescapeMount(fields[4])
			if p == root || strings.HasPrefix(p, root+"/") {
				points = append(points, p)
			}
		}
		f.Close()
		if len(points) == 0 {
			return nil
		}
		sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
		errs = errs[:0]
		for _, p := range points {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// deleteNodes removes the worker nodes' network namespaces (their links
// and routes go with them).
func deleteNodes(ctx context.Context) error {
	ns, _ := filepath.Glob("/run/netns/" + NodeNetnsPrefix + "*")
	var errs []error
	for _, p := range ns {
		if _, err := run(ctx, "ip", "netns", "delete", filepath.Base(p)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func unescapeMount(s string) string {
	return strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(s)
}

// cleanIptables deletes the rules in any chain that jump to one of our
// chains, then flushes and deletes our chains, in every table, for IPv4
// and IPv6.
func cleanIptables(ctx context.Context) error {
	var errs []error
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		for _, table := range []string{"filter", "nat", "mangle", "raw"} {
			out, err := run(ctx, bin, "-w", "-t", table, "-S")
			if err != nil {
				continue // table not there
			}
			var chains []string
			var jumps [][]string
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) >= 2 && f[0] == "-N" && ours(f[1]) {
					chains = append(chains, f[1])
				}
				if len(f) >= 2 && f[0] == "-A" && !ours(f[1]) {
					for i := 2; i+1 < len(f); i++ {
						if (f[i] == "-j" || f[i] == "-g") && ours(f[i+1]) {
							jumps = append(jumps, f)
							break
						}
					}
				}
			}
			for _, f := range jumps {
				// -S prints rules with quoted comments; rebuild the argv.
				args := append([]string{"-w", "-t", table, "-D"}, splitRule(strings.Join(f[1:], " "))...)
				if _, err := run(ctx, bin, args...); err != nil {
					errs = append(errs, err)
				}
			}
			for _, c := range chains {
				_, _ = run(ctx, bin, "-w", "-t", table, "-F", c)
			}
			for _, c := range chains {
				if _, err := run(ctx, bin, "-w", "-t", table, "-X", c); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func ours(chain string) bool {
	for _, p := range iptablesPrefixes {
		if strings.HasPrefix(chain, p) {
			return true
		}
	}
	return false
}

// splitRule splits an iptables -S line the way a shell would (double
// quotes only, as iptables prints them).
func splitRule(s string) []string {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQ && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQ, have = !inQ, true
		case c == ' ' && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// removeLogLinks removes the kubelet's /var/log/containers links into our
// state root (that directory is fixed in the kubelet).
func removeLogLinks(root string) error {
	links, _ := filepath.Glob("/var/log/containers/*.log")
	for _, l := range links {
		if t, err := os.Readlink(l); err == nil && strings.HasPrefix(t, root+"/") {
			_ = os.Remove(l)
		}
	}
	return nil
}
