package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/metrics/scrape"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// probeBudget is the most any probe may take, whatever the database does.
const probeBudget = 50 * time.Millisecond

const (
	monitorUser     = "sentinel"
	monitorPassword = "s3cret-probe"
)

// probe GETs a URL and fails the test if the answer took longer than the
// probe budget twice in a row. The sentinel answers from memory, so one
// that waits on the database is slow on every GET; a single slow answer
// followed by a fast one is the 2-core machine running other test
// packages at the same time (go test -p), and is only logged.
func probe(t *testing.T, url string) (int, string) {
	t.Helper()
	code, body, d := get(t, url)
	if d > probeBudget {
		var again time.Duration
		if code, body, again = get(t, url); again > probeBudget {
			t.Errorf("GET %s took %v, then %v: budget %v", url, d, again, probeBudget)
		} else {
			t.Logf("GET %s took %v, then %v (a busy machine): budget %v", url, d, again, probeBudget)
		}
	}
	return code, body
}

func get(t *testing.T, url string) (int, string, time.Duration) {
	t.Helper()
	begin := time.Now()
	resp, err := testsentinel.ProbeClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, strings.TrimSpace(string(body)), time.Since(begin)
}

// waitProbe probes url every 20 ms until it answers code with a body
// containing want, and returns how long that took.
func waitProbe(t *testing.T, url string, code int, want string, within time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	var lastCode int
	var lastBody string
	for time.Since(begin) < within {
		lastCode, lastBody = probe(t, url)
		if lastCode == code && strings.Contains(lastBody, want) {
			return time.Since(begin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still %d %q after %v; want %d %q", url, lastCode, lastBody, within, code, want)
	return 0
}

func createMonitorUser(t *testing.T, n *testcluster.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// No GRANT: SHOW GLOBAL STATUS and SHOW GLOBAL VARIABLES need only USAGE.
	if err := n.Exec(ctx, fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", monitorUser, monitorPassword)); err != nil {
		t.Fatal(err)
	}
}

// TestServeAddressFaults: nothing listening, SYNs dropped, and a peer that
// accepts and never speaks. In every case each probe answers at once, 503,
// and the sentinel keeps a single connection attempt in flight.
func TestServeAddressFaults(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Nodes: 1})
	refused := freeLoopbackAddr(t)
	blackhole := c.Blackhole(t)
	silent, accepted := c.SilentListener(t)

	for _, tc := range []struct{ name, addr, reason string }{
		{"refused", refused, "connection refused"},
		{"blackhole", blackhole, "still connecting"},
		{"silent", silent, "still connecting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startSentinel(t, testServeConfig(tc.addr))
			d := waitProbe(t, base+"/readyz", 503, tc.reason, 3*time.Second)
			t.Logf("%s: /readyz 503 %q after %v", tc.name, tc.reason, d.Round(time.Millisecond))
			// Let several polls pass, then check every endpoint.
			time.Sleep(2 * time.Second)
			for path, want := range map[string]int{"/readyz": 503, "/": 503, "/writerz": 503, "/startupz": 503, "/livez": 200, "/status": 200} {
				if code, body := probe(t, base+path); code != want {
					t.Errorf("%s: %d %q, want %d", path, code, body, want)
				}
			}
		})
	}
	// Many polls against the silent peer made one connection, not one a
	// poll: the stalled handshake is waited for, never abandoned.
	if n := accepted(); n != 1 {
		t.Errorf("silent peer saw %d connections from the sentinel, want 1", n)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeNodeFaults drives a real 3-node cluster, in network namespaces,
// through each fault and checks that /readyz turns 503 within max-staleness
// plus a second of the fault (for states Galera itself takes time to
// reach, of the node reaching them) and back within two poll intervals of
// the heal.
func TestServeNodeFaults(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 3, Netns: true})
	createMonitorUser(t, c.Nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	cfg := testServeConfig(c.Nodes[1].Addr())
	maint := filepath.Join(t.TempDir(), "maintenance")
	cfg.MaintenanceFile = maint
	base := startSentinel(t, cfg)
	detect := cfg.MaxStaleness + time.Second
	heal := 2*cfg.PollInterval + 200*time.Millisecond // + the 20 ms probe step and scheduling
	waitProbe(t, base+"/readyz", 200, "ready: Primary, Synced, size 3", 5*time.Second)
	waitProbe(t, base+"/startupz", 200, "started", time.Second)
	n2 := c.Nodes[1]

	check := func(name string, fault, undo func(), want string) {
		t.Helper()
		fault()
		d := waitProbe(t, base+"/readyz", 503, want, detect)
		if code, body := probe(t, base+"/livez"); code != 200 {
			t.Errorf("%s: /livez %d %q, want 200", name, code, body)
		}
		undo()
		h := waitProbe(t, base+"/readyz", 200, "ready", heal)
		t.Logf("%s: 503 %q after %v; 200 again %v after the heal", name, want, d.Round(time.Millisecond), h.Round(time.Millisecond))
	}
	exec := func(q string) func() {
		return func() {
			if err := n2.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	check("desync", exec("SET GLOBAL wsrep_desync=ON"), exec("SET GLOBAL wsrep_desync=OFF"), "desynced: wsrep_desync=ON")
	check("read_only", exec("SET GLOBAL read_only=ON"), exec("SET GLOBAL read_only=OFF"), "read_only=ON")
	check("reject queries", exec("SET GLOBAL wsrep_reject_queries=ALL"), exec("SET GLOBAL wsrep_reject_queries=NONE"), "wsrep_reject_queries=ALL")
	check("maintenance file", func() {
		if err := os.WriteFile(maint, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if err := os.Remove(maint); err != nil {
			t.Fatal(err)
		}
	}, "maintenance")

	// Frozen during polls: the query stalls; the sentinel goes stale.
	check("frozen (stall in a query)", func() {
		if err := n2.Freeze(); err != nil {
			t.Fatal(err)
		}
	}, func() {
		if err := n2.Thaw(); err != nil {
			t.Fatal(err)
		}
	}, "stale: last good sample")
	if err := c.WaitSize(ctx, 3); err != nil {
		t.Fatal(err)
	}

	// Partitioned: Galera needs its own evs timeouts to leave the Primary
	// component; the sentinel must report it within one staleness bound
	// of the node doing so.
	begin := time.Now()
	if err := n2.Partition(); err != nil {
		t.Fatal(err)
	}
	if err := n2.WaitNonPrimary(ctx); err != nil {
		t.Fatal(err)
	}
	nonPrimary := time.Since(begin)
	d := waitProbe(t, base+"/readyz", 503, "not Primary: non-Primary", detect)
	if code, _ := probe(t, base+"/livez"); code != 200 {
		t.Errorf("partitioned: /livez %d, want 200", code)
	}
	if err := n2.Heal(); err != nil {
		t.Fatal(err)
	}
	healBegin := time.Now()
	if err := n2.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	synced := time.Since(healBegin)
	h := waitProbe(t, base+"/readyz", 200, "ready", heal)
	t.Logf("partition: node non-Primary after %v, /readyz 503 %v later; after healing node Synced in %v, /readyz 200 %v later",
		nonPrimary.Round(time.Millisecond), d.Round(time.Millisecond), synced.Round(time.Millisecond), h.Round(time.Millisecond))
}

// TestServeStateTransfer: a node with a wiped disk joins through a real
// SST. Its sentinel says not ready (but alive) until it is Synced; the
// donor's sentinel says not ready while it donates.
func TestServeStateTransfer(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 3})
	createMonitorUser(t, c.Nodes[0])
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	donor, joiner := c.Nodes[1], c.Nodes[2]
	// Enough data that the rsync SST lasts a few polls.
	if err := c.Nodes[0].Exec(ctx, "CREATE DATABASE big", "CREATE TABLE big.t (id INT AUTO_INCREMENT PRIMARY KEY, pad VARCHAR(1000))",
		"INSERT INTO big.t (pad) SELECT REPEAT('x', 1000) FROM big.seq_1_to_30000"); err != nil {
		t.Fatal(err)
	}

	dcfg := testServeConfig(donor.Addr())
	dcfg.PollInterval = 100 * time.Millisecond
	donorURL := startSentinel(t, dcfg)
	waitProbe(t, donorURL+"/readyz", 200, "ready", 5*time.Second)

	if err := joiner.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := joiner.Wipe(); err != nil {
		t.Fatal(err)
	}
	jcfg := testServeConfig(joiner.Addr())
	jcfg.PollInterval = 100 * time.Millisecond
	joinerURL := startSentinel(t, jcfg)

	// Watch both sentinels for the whole transfer.
	type seen struct{ donorNotSynced, joinerReady, joinerNotLive bool }
	var s seen
	stop := make(chan struct{})
	watched := make(chan seen)
	go func() {
		var s seen
		for {
			select {
			case <-stop:
				watched <- s
				return
			case <-time.After(25 * time.Millisecond):
			}
			if code, body := probe(t, donorURL+"/readyz"); code == 503 && strings.Contains(body, "Donor/Desynced") {
				s.donorNotSynced = true
			}
			if code, _ := probe(t, joinerURL+"/livez"); code != 200 {
				s.joinerNotLive = true
			}
			// /readyz and /startupz read one atomic snapshot each, and
			// "ever Synced" never goes back: a 200 from /readyz followed
			// by a failing /startupz means readiness was reported for a
			// node that had not been Synced. A 200 from both is the node
			// becoming Synced between two watcher ticks, which is fine.
			if code, _ := probe(t, joinerURL+"/readyz"); code == 200 {
				if code, _ := probe(t, joinerURL+"/startupz"); code != 200 {
					s.joinerReady = true
				}
			}
		}
	}()
	begin := time.Now()
	if err := joiner.StartArgs(ctx, "--wsrep-sst-donor="+donor.Name); err != nil {
		t.Fatal(err)
	}
	if err := joiner.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	sst := time.Since(begin)
	waitProbe(t, joinerURL+"/readyz", 200, "ready", 2*time.Second)
	close(stop)
	s = <-watched
	t.Logf("SST of a wiped node took %v", sst.Round(time.Millisecond))
	if !s.donorNotSynced {
		t.Error("the donor's /readyz never said Donor/Desynced during the SST")
	}
	if s.joinerReady {
		t.Error("the joiner's /readyz said ready before it was ever Synced")
	}
	if s.joinerNotLive {
		t.Error("the joiner's /livez failed during its SST")
	}
	waitProbe(t, donorURL+"/readyz", 200, "ready", 2*time.Second)
}

// TestServeFrozenBeforeHandshake: a sentinel that starts while mariadbd is
// frozen waits on its one handshake; when mariadbd thaws, that same
// handshake completes. No aborted connect is left on the server.
func TestServeFrozenBeforeHandshakeAndAbortedConnects(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	createMonitorUser(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	aborted := func() int64 {
		v, err := n.QueryInt(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='ABORTED_CONNECTS'")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := aborted()

	if err := n.Freeze(); err != nil {
		t.Fatal(err)
	}
	cfg := testServeConfig(n.Addr())
	base := startSentinel(t, cfg)
	waitProbe(t, base+"/readyz", 503, "still connecting", 3*time.Second)
	time.Sleep(3 * time.Second) // several polls time out meanwhile
	if err := n.Thaw(); err != nil {
		t.Fatal(err)
	}
	d := waitProbe(t, base+"/readyz", 200, "ready", 2*cfg.PollInterval+200*time.Millisecond)
	t.Logf("frozen before handshake: ready %v after the thaw", d.Round(time.Millisecond))

	// A thousand polls on the one persistent connection.
	fast := testServeConfig(n.Addr())
	fast.PollInterval = time.Millisecond
	fastURL := startSentinel(t, fast)
	deadline := time.Now().Add(30 * time.Second)
	for {
		polls := pollCount(t, fastURL)
		if polls >= 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d polls in 30s", polls)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after := aborted(); after != before {
		t.Errorf("Aborted_connects went from %d to %d during the sentinel's polls", before, after)
	}

	// What a naive TCP load-balancer check does: connect and close
	// without a handshake. The server counts it, so this test can fail.
	conn, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	deadline = time.Now().Add(15 * time.Second)
	for aborted() == before && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if after := aborted(); after <= before {
		t.Errorf("a bare TCP connect-and-close left Aborted_connects at %d: the check above cannot fail", after)
	}
}

// TestServeLongStall freezes mariadbd for 60 seconds under a sentinel with
// default intervals: it never holds more than 2 connections to the
// database port and its goroutine count stays flat.
func TestServeLongStall(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60-second stall; skipped with -short")
	}
	c := testcluster.Start(t, testcluster.Options{Nodes: 1})
	n := c.Nodes[0]
	createMonitorUser(t, n)
	cfg := testServeConfig(n.Addr())
	cfg.PollInterval, cfg.Timeout, cfg.MaxStaleness = time.Second, 2*time.Second, 3*time.Second
	base := startSentinel(t, cfg)
	waitProbe(t, base+"/readyz", 200, "ready", 5*time.Second)
	pid := pidOf(t, base)
	baseline := goroutines(t, base)

	if err := n.Freeze(); err != nil {
		t.Fatal(err)
	}
	// settled is the count 5 s into the stall, once the stuck connect
	// attempt and the probes' HTTP connections exist; a leak grows from
	// there with every poll (a second each).
	maxConns, maxG, settled := 0, 0, 0
	begin := time.Now()
	end := begin.Add(60 * time.Second)
	for time.Now().Before(end) {
		probe(t, base+"/readyz")
		if k := socketsTo(t, pid, n.Addr()); k > maxConns {
			maxConns = k
		}
		g := goroutines(t, base)
		if settled == 0 && time.Since(begin) >= 5*time.Second {
			settled = g
		}
		if settled > 0 && g > maxG {
			maxG = g
		}
		time.Sleep(250 * time.Millisecond)
	}
	if code, body := probe(t, base+"/readyz"); code != 503 {
		t.Errorf("after a 60s stall /readyz is %d %q", code, body)
	}
	if err := n.Thaw(); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, base+"/readyz", 200, "ready", 2*cfg.PollInterval+cfg.Timeout)
	t.Logf("60s stall: at most %d connections to %s, goroutines %d before the stall, %d 5s into it, %d at most after that", maxConns, n.Addr(), baseline, settled, maxG)
	if maxConns > 2 {
		t.Errorf("held %d connections to the database during the stall, want at most 2", maxConns)
	}
	// Over 55 polls a leak of one goroutine per poll adds 55; the
	// probes' connections coming and going add a couple.
	if maxG > settled+3 {
		t.Errorf("goroutines grew from %d (5s into the stall) to %d during it", settled, maxG)
	}
	// Against the start: the stuck connect attempt with its context
	// watcher, and the probe's and the scrape's HTTP connections with
	// their readers (seen: +5 on a loaded CI machine).
	if maxG > baseline+8 {
		t.Errorf("goroutines grew from %d before the stall to %d during it", baseline, maxG)
	}
}

// socketsTo counts process pid's TCP sockets connected to addr, whatever
// their state, by matching /proc/net/tcp against its descriptors.
func socketsTo(t *testing.T, pid int, addr string) int {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host).To4()
	var p int
	fmt.Sscanf(port, "%d", &p)
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p)
	inodes := map[string]bool{}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(fdDir)
	for _, fd := range fds {
		if l, err := os.Readlink(fdDir + "/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[2] == want && inodes[f[9]] {
			n++
		}
	}
	return n
}

// TestServeAtMaxConnections: other clients use up max_connections; the
// sentinel's persistent connection keeps sampling and /readyz stays true.
func TestServeAtMaxConnections(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Nodes: 1, ExtraConfig: "max_connections=6"})
	n := c.Nodes[0]
	createMonitorUser(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Exec(ctx, "CREATE USER 'app'@'%' IDENTIFIED BY 'app'"); err != nil {
		t.Fatal(err)
	}
	base := startSentinel(t, testServeConfig(n.Addr()))
	waitProbe(t, base+"/readyz", 200, "ready", 5*time.Second)

	// Fill every slot as an ordinary user, until the server says 1040.
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	full := false
	for i := 0; i < 50 && !full; i++ {
		conn, err := mysqlLogin(n.Addr(), "app", "app")
		if err != nil {
			if !strings.Contains(err.Error(), "1040") {
				t.Fatalf("filling connections: %v", err)
			}
			full = true
			break
		}
		held = append(held, conn)
	}
	if !full {
		t.Fatalf("server accepted %d connections without reaching max_connections", len(held))
	}
	t.Logf("server full after %d client connections", len(held))
	before := pollCount(t, base)
	time.Sleep(3 * time.Second)
	if code, body := probe(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz at max_connections: %d %q", code, body)
	}
	if after := pollCount(t, base); after <= before {
		t.Errorf("no successful poll while the server was full (%d -> %d)", before, after)
	}
}

// mysqlLogin opens a client session that stays open until closed.
func mysqlLogin(addr, user, password string) (io.Closer, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd = "tcp", addr, user, password
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return connector.Connect(context.Background())
}

// pollCount is the number of successful polls so far, from /status.
func pollCount(t *testing.T, base string) int {
	t.Helper()
	resp, err := testsentinel.ProbeClient.Get(base + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Polls    int `json:"polls"`
		Failures int `json:"poll_failures"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Polls - doc.Failures
}

// goroutines is the sentinel's go_goroutines, from its /metrics (the
// scrape itself counts in every reading alike).
func goroutines(t *testing.T, base string) int {
	t.Helper()
	p, err := scrape.Get(base+"/metrics", "")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.Value("go_goroutines")
	if !ok {
		t.Fatalf("%s/metrics has no go_goroutines", base)
	}
	return int(v)
}
