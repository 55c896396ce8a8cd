// Package testcluster starts real local MariaDB Galera clusters for tests and
// breaks them on demand: kill -9, SIGSTOP, restarts on the same data
// directory, wiped disks, network partitions with real packets, ports that
// drop SYNs, listeners that never answer.
//
// It is for tests only. Every cluster lives in a slot (see slot.go) and is
// torn down by t.Cleanup, pass or fail; a test binary that crashes leaves its
// slot to be swept by the next user. Nothing here mocks the database: each
// node is Debian's mariadbd with the Galera 4 provider.
package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths of Debian's packages (mariadb-server, galera-4).
const (
	MariadbdPath  = "/usr/sbin/mariadbd"
	InstallDBPath = "/usr/bin/mariadb-install-db"
	ProviderPath  = "/usr/lib/galera/libgalera_smm.so"
)

// Ports every node uses on its own address. Each node has an address of its
// own (127.77.<slot>.<i> on loopback, 10.213.<slot>.<i> in a namespace), so
// the ports can be fixed; they are off the standard ones so that a system
// MariaDB listening on a wildcard address does not collide with us.
const (
	ClientPort = 13306
	GcommPort  = 14567
	ISTPort    = 14568
	SSTPort    = 14444
	// SentinelPort is where tests run a node's sentinel (Node.SentinelAddr).
	SentinelPort = 19200
	// AgentPort is where tests run a sentinel's agent-check (Node.AgentAddr).
	AgentPort = 19201
)

// Options describes a cluster. The zero value is a 3-node cluster on
// loopback addresses.
type Options struct {
	// Nodes is the number of nodes, 1 to 9 (default 3).
	Nodes int
	// Netns puts every node in a network namespace of its own, joined by a
	// bridge, so that a node can be partitioned with Node.Partition. The
	// test process stays in the root namespace and reaches every node
	// through the bridge.
	Netns bool
	// ExtraConfig is appended to the [mysqld] section of every node.
	ExtraConfig string
	// Async makes the nodes plain MariaDB servers for asynchronous
	// primary/replica replication instead of Galera: no wsrep provider,
	// server_id is the node's index, binary log, log_slave_updates,
	// gtid_strict_mode. See StartAsync.
	Async bool
}

// Cluster is a set of Galera nodes that know each other's addresses.
type Cluster struct {
	t     testing.TB
	opts  Options
	slot  *slot
	Name  string
	Nodes []*Node
	uid   int
	gid   int

	templateOnce sync.Once
	templateErr  error
}

// Require reports whether the harness can run here: root, Debian's
// mariadbd, the Galera provider, rsync, ip and iptables. When something is
// missing the test is skipped, except in CI (CI=true), where it fails: an
// integration test must never pass by not running.
func Require(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (network namespaces, iptables, running mariadbd as mysql)")
	}
	for _, p := range []string{MariadbdPath, InstallDBPath, ProviderPath} {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	for _, bin := range []string{"rsync", "ip", "iptables", "wsrep_sst_rsync"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := user.Lookup("mysql"); err != nil {
		missing = append(missing, "user mysql")
	}
	if len(missing) == 0 {
		return
	}
	msg := "testcluster needs: " + strings.Join(missing, ", ") + " (run scripts/install-deps.sh)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RequireBinary returns the path of a program the test needs (looked up in
// PATH, then /usr/sbin and /sbin, where Debian puts daemons). When it is
// missing the test is skipped, except in CI, where it fails.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	msg := name + " not installed (run scripts/install-deps.sh)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// New prepares a cluster (addresses, directories, configuration, network)
// without starting any node. Everything is torn down when the test ends.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	Require(t)
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.Nodes < 1 || opts.Nodes > 9 {
		t.Fatalf("testcluster: %d nodes: want 1 to 9", opts.Nodes)
	}
	s, err := acquireSlot()
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	u, err := user.Lookup("mysql")
	if err != nil {
		s.release()
		t.Fatalf("testcluster: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c := &Cluster{t: t, opts: opts, slot: s, Name: fmt.Sprintf("gst-%d", s.n), uid: uid, gid: gid}
	t.Cleanup(c.teardown)

	if opts.Netns {
		if err := c.setupNetwork(); err != nil {
			t.Fatalf("testcluster: network: %v", err)
		}
	}
	for i := 1; i <= opts.Nodes; i++ {
		n := &Node{c: c, Index: i, Name: fmt.Sprintf("node%d", i)}
		if opts.Netns {
			n.Host = fmt.Sprintf("10.213.%d.%d", s.n, i)
			n.netns = s.netns(i)
		} else {
			n.Host = fmt.Sprintf("127.77.%d.%d", s.n, i)
		}
		n.Dir = filepath.Join(s.dir, n.Name)
		n.DataDir = filepath.Join(n.Dir, "data")
		n.Socket = filepath.Join(n.Dir, "mysqld.sock")
		n.ConfigFile = filepath.Join(n.Dir, "my.cnf")
		n.ErrorLog = filepath.Join(n.Dir, "error.log")
		c.Nodes = append(c.Nodes, n)
	}
	for _, n := range c.Nodes {
		if err := n.prepare(); err != nil {
			t.Fatalf("testcluster: prepare %s: %v", n.Name, err)
		}
	}
	return c
}

// Start prepares a cluster and brings it up: the first node bootstraps, the
// others join through SST, and Start returns once every node is Synced in a
// Primary component of full size.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := New(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	if err := c.Nodes[0].Bootstrap(ctx); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	if err := c.Nodes[0].WaitSynced(ctx); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Start(ctx); err != nil {
				errs[i] = err
				return
			}
			errs[i] = n.WaitSynced(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	if err := c.WaitSize(ctx, len(c.Nodes)); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	t.Logf("testcluster: %d-node cluster %s Synced in %v", len(c.Nodes), c.Name, time.Since(begin).Round(time.Millisecond))
	return c
}

// Address is the wsrep_cluster_address listing every node.
func (c *Cluster) Address() string {
	hosts := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		hosts[i] = fmt.Sprintf("%s:%d", n.Host, GcommPort)
	}
	return "gcomm://" + strings.Join(hosts, ",")
}

// WaitSize waits until every running node reports a Primary component of
// the given size and is Synced.
func (c *Cluster) WaitSize(ctx context.Context, size int) error {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		err := n.WaitFor(ctx, fmt.Sprintf("Primary, Synced, size %d", size), func(s Status) bool {
			return s.ClusterStatus == "Primary" && s.LocalState == "Synced" && s.ClusterSize == size
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) setupNetwork() error {
	s := c.slot
	steps := [][]string{
		{"ip", "link", "add", s.bridge(), "type", "bridge"},
		{"ip", "addr", "add", fmt.Sprintf("10.213.%d.254/24", s.n), "dev", s.bridge()},
		{"ip", "link", "set", s.bridge(), "up"},
	}
	for i := 1; i <= c.opts.Nodes; i++ {
		ns := s.netns(i)
		steps = append(steps,
			[]string{"ip", "netns", "add", ns},
			[]string{"ip", "link", "add", s.hostVeth(i), "type", "veth", "peer", "name", "eth0", "netns", ns},
			[]string{"ip", "link", "set", s.hostVeth(i), "master", s.bridge()},
			[]string{"ip", "link", "set", s.hostVeth(i), "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "addr", "add", fmt.Sprintf("10.213.%d.%d/24", s.n, i), "dev", "eth0"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"},
			[]string{"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"},
		)
	}
	for _, st := range steps {
		if err := run(st[0], st[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// teardown kills every node (tests that want a clean stop call Stop
// themselves), dumps the error logs of a failed test, and sweeps the slot.
func (c *Cluster) teardown() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.kill() }()
	}
	wg.Wait()
	if c.t.Failed() {
		for _, n := range c.Nodes {
			c.t.Logf("testcluster: last lines of %s error log:\n%s", n.Name, tail(n.ErrorLog, 40))
		}
	}
	if err := c.slot.sweep(); err != nil {
		c.t.Errorf("testcluster: teardown: %v", err)
	}
	c.slot.release()
}

// Template is a data directory initialised by mariadb-install-db (with
// 'mysql'@'localhost' identified by unix_socket), made once per cluster:
// copying it is the fast way to initialise a node.
func (c *Cluster) Template() (string, error) { return c.prepareTemplate() }

// prepareTemplate runs mariadb-install-db once per cluster; the bootstrap
// node starts from a copy of it. Joiners start empty and receive SST, as a
// new disk would.
func (c *Cluster) prepareTemplate() (string, error) {
	dir := filepath.Join(c.slot.dir, "template")
	c.templateOnce.Do(func() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			c.templateErr = err
			return
		}
		if err := os.Chown(dir, c.uid, c.gid); err != nil {
			c.templateErr = err
			return
		}
		// One retry from an empty directory: on a loaded machine
		// mariadb-install-db has failed once in a CI run (its own
		// bootstrap server, at the start of the suite) and succeeded
		// in every run before and after. A second failure is real.
		var first string
		for try := 1; try <= 2; try++ {
			cmd := exec.Command(InstallDBPath, "--no-defaults", "--user=mysql", "--datadir="+dir,
				"--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve")
			out, err := cmd.CombinedOutput()
			if err == nil {
				c.templateErr = nil
				return
			}
			c.templateErr = fmt.Errorf("mariadb-install-db: %w: %s%s", err, head(string(out), 15), first)
			first = "\n(first try: " + head(string(out), 15) + ")"
			if err := emptyDir(dir); err != nil {
				c.templateErr = errors.Join(c.templateErr, err)
				return
			}
		}
	})
	return dir, c.templateErr
}

// head is the first n lines of s, where mariadb-install-db says what
// went wrong.
func head(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// emptyDir removes what dir holds, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tail2(string(b), n)
}

func tail2(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
