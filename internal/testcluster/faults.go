package testcluster

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Blackhole returns a loopback address whose SYNs are dropped by iptables:
// a connect to it neither succeeds nor is refused, as with a host that
// vanished behind a firewall. The rule is removed when the test ends.
func (c *Cluster) Blackhole(t testing.TB) string {
	t.Helper()
	host := fmt.Sprintf("127.77.%d.200", c.slot.n)
	port := 23306 + c.slot.n
	args := []string{"-I", "INPUT", "1", "-d", host, "-p", "tcp", "--dport", strconv.Itoa(port), "--syn", "-j", "DROP",
		"-m", "comment", "--comment", c.slot.comment()}
	if err := run("iptables", args...); err != nil {
		t.Fatalf("testcluster: blackhole: %v", err)
	}
	t.Cleanup(func() {
		args[0] = "-D"
		args = append(args[:2], args[3:]...) // -D takes no position
		if err := run("iptables", args...); err != nil {
			t.Errorf("testcluster: remove blackhole: %v", err)
		}
	})
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// SilentListener returns the address of a listener that accepts every
// connection and never sends a byte: a peer stuck before the MySQL
// greeting. Real mariadbd cannot be made to do this on demand for as long
// as a test needs (a frozen one stops accepting once its backlog fills).
// Everything is closed when the test ends. Accepted counts connections.
func (c *Cluster) SilentListener(t testing.TB) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.77.%d.201:0", c.slot.n))
	if err != nil {
		t.Fatalf("testcluster: silent listener: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, conn := range conns {
			conn.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

// BlockSST makes the node's state-transfer port refuse connections (an
// iptables REJECT with a TCP reset, in the node's namespace when it has
// one): a joiner whose SST port a firewall closes, so the donor's rsync
// is refused, as in the seeds' "Connection refused". It returns the
// function that opens the port again; the slot's sweep removes the rule
// too.
func (n *Node) BlockSST() (unblock func() error, err error) {
	rule := []string{"INPUT", "-d", n.Host, "-p", "tcp", "--dport", strconv.Itoa(SSTPort),
		"-j", "REJECT", "--reject-with", "tcp-reset", "-m", "comment", "--comment", n.c.slot.comment()}
	iptables := func(op string, args ...string) error {
		full := append([]string{op}, args...)
		if n.netns != "" {
			return run("ip", append([]string{"netns", "exec", n.netns, "iptables"}, full...)...)
		}
		return run("iptables", full...)
	}
	if err := iptables("-I", append([]string{rule[0], "1"}, rule[1:]...)...); err != nil {
		return nil, fmt.Errorf("testcluster: block SST of %s: %w", n.Name, err)
	}
	return func() error { return iptables("-D", rule...) }, nil
}

// Throttle limits the traffic into the node (its state transfers, its
// replication) to rate, a tc rate such as "2mbit", with a token bucket
// filter (tc qdisc tbf) on the host end of its veth: the bytes really
// arrive that slowly, as over a thin link. Needs Options.Netns. It
// returns the function that lifts the limit; the veth, and the limit
// with it, goes with the slot too.
func (n *Node) Throttle(rate string) (unthrottle func() error, err error) {
	if n.netns == "" {
		return nil, errors.New("throttle needs Options.Netns")
	}
	dev := n.c.slot.hostVeth(n.Index)
	if err := run("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms"); err != nil {
		return nil, fmt.Errorf("testcluster: throttle %s to %s (tc qdisc tbf; is sch_tbf available?): %w", n.Name, rate, err)
	}
	return func() error { return run("tc", "qdisc", "del", "dev", dev, "root") }, nil
}

// BlackholeSST drops every packet to and from the node's state-transfer
// port (iptables DROP in its namespace, both ways), without a reset: a
// transfer under way goes silent, as behind a link that died or a donor
// that froze. Needs Options.Netns. It returns the function that lets the
// packets through again; the slot's sweep removes the rules too.
func (n *Node) BlackholeSST() (restore func() error, err error) {
	return n.dropPort("blackhole SST", SSTPort, "OUTPUT")
}

// BlockGcomm drops every packet to and from the node's Galera port
// (iptables DROP in its namespace, both ways): its group communication is
// cut while everything else (the sentinels' API, SQL) still flows, as
// behind a firewall that closes only 4567. Needs Options.Netns. It returns
// the function that lets the packets through again; the slot's sweep
// removes the rules too.
func (n *Node) BlockGcomm() (restore func() error, err error) {
	return n.dropPort("block gcomm", GcommPort, "INPUT")
}

// dropPort drops, in the node's namespace, the TCP packets that arrive for
// port and those that leave it from port (replyChain OUTPUT), or that
// arrive from a peer's port (replyChain INPUT: the node's own connections
// to the same port elsewhere), and returns the function that removes the
// rules.
func (n *Node) dropPort(what string, port int, replyChain string) (restore func() error, err error) {
	if n.netns == "" {
		return nil, fmt.Errorf("%s needs Options.Netns", what)
	}
	p := strconv.Itoa(port)
	rules := [][]string{
		{"INPUT", "-p", "tcp", "--dport", p, "-j", "DROP", "-m", "comment", "--comment", n.c.slot.comment()},
		{replyChain, "-p", "tcp", "--sport", p, "-j", "DROP", "-m", "comment", "--comment", n.c.slot.comment()},
	}
	iptables := func(args ...string) error {
		return run("ip", append([]string{"netns", "exec", n.netns, "iptables"}, args...)...)
	}
	for _, r := range rules {
		if err := iptables(append([]string{"-I", r[0], "1"}, r[1:]...)...); err != nil {
			return nil, fmt.Errorf("testcluster: %s of %s: %w", what, n.Name, err)
		}
	}
	return func() error {
		var errs []error
		for _, r := range rules {
			errs = append(errs, iptables(append([]string{"-D"}, r...)...))
		}
		return errors.Join(errs...)
	}, nil
}
