package testcluster

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HAProxyCheck is how HAProxy decides that a node may take traffic.
type HAProxyCheck int

const (
	// CheckSentinel: `option httpchk GET /readyz` against the node's
	// sentinel, plus the sentinel's agent-check.
	CheckSentinel HAProxyCheck = iota
	// CheckTCP: a plain TCP connect to the client port, what many
	// setups use and what the sentinel replaces.
	CheckTCP
)

// HAProxy is a real haproxy in front of a cluster's nodes, in TCP mode,
// balancing round-robin over every node.
type HAProxy struct {
	Addr   string // where clients connect
	socket string // admin socket
	log    string
}

// StartHAProxy starts haproxy in front of every node of a loopback
// cluster, checking each node every 300 ms (2 failures down, 2 successes
// up). It listens on the slot's address 127.77.<slot>.100, port
// ClientPort, and is stopped when the test ends.
func (c *Cluster) StartHAProxy(t testing.TB, check HAProxyCheck) *HAProxy {
	t.Helper()
	switch check {
	case CheckSentinel:
		return c.StartHAProxyWith(t, fmt.Sprintf(`    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 300ms fall 2 rise 2 port %d agent-check agent-port %d agent-inter 300ms
`, SentinelPort, AgentPort))
	default:
		return c.StartHAProxyWith(t, "    default-server inter 300ms fall 2 rise 2\n")
	}
}

// StartHAProxyWith is StartHAProxy with the check directives of the
// listener given verbatim (indented lines such as "option httpchk", and
// "balance", roundrobin when absent), for tests of the configurations
// users already have.
func (c *Cluster) StartHAProxyWith(t testing.TB, checkLines string) *HAProxy {
	t.Helper()
	return c.StartHAProxyOn(t, "haproxy", ClientPort, checkLines)
}

// StartHAProxyOn is StartHAProxyWith for a second haproxy beside the
// first (a writer listener beside the readers', say): name tells its
// files in the slot directory apart, clients connect to port.
func (c *Cluster) StartHAProxyOn(t testing.TB, name string, port int, checkLines string) *HAProxy {
	t.Helper()
	bin := RequireBinary(t, "haproxy")
	if c.opts.Netns {
		t.Fatal("testcluster: StartHAProxy needs a loopback cluster")
	}
	host := c.Nodes[0].Host[:strings.LastIndexByte(c.Nodes[0].Host, '.')] + ".100"
	h := &HAProxy{Addr: fmt.Sprintf("%s:%d", host, port), socket: filepath.Join(c.slot.dir, name+".sock")}
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    retries 3
    option redispatch
listen galera
    bind %s
`, h.socket, h.Addr)
	if !strings.Contains(checkLines, "balance ") {
		b.WriteString("    balance roundrobin\n")
	}
	b.WriteString(checkLines)
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "    server %s %s check\n", n.Name, n.Addr())
	}
	cfg := filepath.Join(c.slot.dir, name+".cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// The config path is under the slot directory, so a crashed run's
	// haproxy is swept with the slot.
	return RunHAProxy(t, bin, cfg, h.socket, h.Addr)
}

// RunHAProxy runs haproxy (bin) on the configuration file cfg, whose
// stats socket (level admin) is socket and whose clients connect to addr,
// until the test ends; it returns once the socket answers.
func RunHAProxy(t testing.TB, bin, cfg, socket, addr string) *HAProxy {
	t.Helper()
	h := &HAProxy{Addr: addr, socket: socket, log: strings.TrimSuffix(cfg, ".cfg") + ".log"}
	out, err := os.Create(h.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("haproxy log:\n%s", tail(h.log, 30))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := h.Stat(); err == nil {
			return h
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited at start:\n%s", tail(h.log, 20))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy admin socket not answering:\n%s", tail(h.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ShippedListener returns the directives of one listener of an HAProxy
// configuration file (the shipped deploy/haproxy/haproxy.cfg) without its
// comments, bind and server lines, for a test to put its own around them.
func ShippedListener(path, name string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b strings.Builder
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "listen ") || strings.HasPrefix(line, "backend ") || strings.HasPrefix(line, "frontend "):
			in = line == "listen "+name
		case !in || trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "bind ") || strings.HasPrefix(trimmed, "server "):
		default:
			b.WriteString(line + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%s: no listener %q", path, name)
	}
	return b.String(), nil
}

// Stat returns each server's status as HAProxy's "show stat" reports it:
// UP, DOWN, DRAIN, MAINT, "UP 1/2", ...
func (h *HAProxy) Stat() (map[string]string, error) {
	out, err := h.command("show stat")
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("show stat: %v: %q", err, out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	sv, st := col["svname"], col["status"]
	res := map[string]string{}
	for _, row := range rows[1:] {
		if len(row) > st && row[sv] != "FRONTEND" && row[sv] != "BACKEND" {
			res[row[sv]] = row[st]
		}
	}
	return res, nil
}

// WaitStatus waits until HAProxy reports server with a status that
// starts with want.
func (h *HAProxy) WaitStatus(ctx context.Context, server, want string) error {
	var last map[string]string
	for {
		st, err := h.Stat()
		if err == nil && strings.HasPrefix(st[server], want) {
			return nil
		}
		last = st
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy: %s not %s: %v", server, want, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (h *HAProxy) command(cmd string) (string, error) {
	c, err := net.DialTimeout("unix", h.socket, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String(), sc.Err()
}
