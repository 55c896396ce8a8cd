//go:build e2ek8s

package kube

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// 7. Single-writer routing on the real cluster: HAProxy on the host with
// the shipped galera-writer listener (deploy/haproxy/haproxy.cfg,
// unchanged but for bind and servers), its servers the members' DNS names
// under the headless Service, resolved by CoreDNS as pods come and go.
// Clients open a connection per transaction. A rolling update of the
// StatefulSet: no failed transaction, no lost row, never a moment without
// a writer in HAProxy.
func testS7WriterThroughHAProxy(t *testing.T) {
	ctx := testCtx(t, 20*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	h := startHAProxy(t)
	waitUntil(t, ctx, "a writer UP in HAProxy", 100*time.Millisecond, func() error {
		if up := h.up(); up != 1 {
			st, _ := h.Stat()
			return fmt.Errorf("%d servers UP: %v", up, st)
		}
		return nil
	})

	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = appUser, appPass, "tcp", h.Addr, "e2e"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 10*time.Second, 10*time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // a connection per transaction
	first := maxID(t, ctx)
	var ws []*writer
	for i := range 4 {
		ws = append(ws, startWriter(db, first+int64(i)*10_000_000, 10*time.Millisecond))
	}
	tctx, stopTrace := context.WithCancel(ctx)
	trace := h.follow(tctx)
	time.Sleep(3 * time.Second)
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "patch", "statefulset", "galera", "--type", "merge", "-p",
		fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"e2e.galera-sentinel.io/writer-rollout":"%d"}}}}}`, t0.UnixNano()))
	kubectl(t, ctx, "-n", ns, "rollout", "status", "statefulset/galera", "--timeout=15m")
	waitHealthy(t, ctx, 5*time.Minute)
	rollout := time.Since(t0)
	time.Sleep(3 * time.Second)
	stopTrace()
	all := collect(ws)
	t.Logf("rolling update through HAProxy's writer listener in %s: %d transactions attempted, %d committed, %d failed; by member %v; %s; longest time without a commit %s",
		rollout.Round(100*time.Millisecond), all.Attempts, len(all.Acked), len(all.Failures), all.byHost(), trace,
		all.longestGap(t0).Round(10*time.Millisecond))
	logFailures(t, all)
	if len(all.Failures) > 0 {
		t.Errorf("%d failed transactions through the writer listener", len(all.Failures))
		logJournals(t, ctx, t0)
	}
	if len(all.Acked) < 100 {
		t.Errorf("only %d transactions committed: the writers did not really run", len(all.Acked))
	}
	if trace.noneMax > 0 {
		t.Errorf("a window without a writer in HAProxy: %s", trace)
	}
	if len(all.byHost()) < 2 {
		t.Errorf("every write went to %v: the writer never moved", all.byHost())
	}
	verifyRows(t, ctx, all.Acked)
}

type hostHAProxy struct{ *testcluster.HAProxy }

// startHAProxy runs haproxy on the host in front of the three members.
func startHAProxy(t *testing.T) *hostHAProxy {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Fatalf("haproxy: %v (make deps installs it)", err)
	}
	listener, err := testcluster.ShippedListener("../../deploy/haproxy/haproxy.cfg", "galera-writer")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	socket, addr := filepath.Join(dir, "admin.sock"), "127.0.0.1:23307"
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s mode 600 level admin
defaults
    mode tcp
    timeout connect 3s
    timeout client 60s
    timeout server 60s
    timeout check 2s
    retries 3
    option redispatch
resolvers k8s
    nameserver coredns %s:53
    hold valid 1s
    hold nx 1s
    hold obsolete 1s
    timeout resolve 500ms
listen galera-writer
    bind %s
`, socket, testkube.NodeIP, addr)
	b.WriteString(listener)
	for i := range replicas {
		fmt.Fprintf(&b, "    server galera-%d galera-%d.galera-peers.%s.svc.cluster.local:3306 check resolvers k8s init-addr none\n", i, i, ns)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c, _ := os.ReadFile(cfg)
			t.Logf("haproxy config:\n%s", c)
		}
	})
	return &hostHAProxy{testcluster.RunHAProxy(t, bin, cfg, socket, addr)}
}

// up is the number of servers taking new connections (UP; NOLB and DOWN
// take none), -1 when HAProxy does not answer.
func (h *hostHAProxy) up() int {
	st, err := h.Stat()
	if err != nil {
		return -1
	}
	n := 0
	for _, s := range st {
		if strings.HasPrefix(s, "UP") {
			n++
		}
	}
	return n
}

// writerTrace is how long HAProxy had no server taking new connections,
// and how long two or more.
type writerTrace struct {
	mu                 sync.Mutex
	noneTotal, noneMax time.Duration
	twoTotal, twoMax   time.Duration
}

func (w *writerTrace) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("no writer in HAProxy %d ms (longest %d ms), two writers %d ms (longest %d ms)",
		w.noneTotal.Milliseconds(), w.noneMax.Milliseconds(), w.twoTotal.Milliseconds(), w.twoMax.Milliseconds())
}

func (h *hostHAProxy) follow(ctx context.Context) *writerTrace {
	tr := &writerTrace{}
	go func() {
		var noneSince, twoSince time.Time
		track := func(on bool, since *time.Time, total, longest *time.Duration, now time.Time) {
			switch {
			case on && since.IsZero():
				*since = now
			case !on && !since.IsZero():
				d := now.Sub(*since)
				*total += d
				*longest = max(*longest, d)
				*since = time.Time{}
			}
		}
		for ctx.Err() == nil {
			if up := h.up(); up >= 0 {
				now := time.Now()
				tr.mu.Lock()
				track(up == 0, &noneSince, &tr.noneTotal, &tr.noneMax, now)
				track(up >= 2, &twoSince, &tr.twoTotal, &tr.twoMax, now)
				tr.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return tr
}
