// Package repl tests --mode=replication against real MariaDB primaries and
// replicas (testcluster's async mode): the probes of `serve`, run mode's
// setup and clone, and the switchover. The sentinels run as the built
// binary, as users run them.
package repl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// The monitoring account the sentinels use; created on the primary, it
// reaches the replicas by replication.
const (
	monitorUser     = "sentinel"
	monitorPassword = "sentinel-test-password-8d1e"
	token           = "replication-test-token-0123456789abcdef"
)

var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "galera-sentinel-repl-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "galera-sentinel")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/galera-sentinel").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := binary(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// sentinelBinary is the built galera-sentinel.
func sentinelBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// createMonitor creates the monitoring account on the primary, with what
// the heartbeat needs, and the token file.
func createMonitor(t *testing.T, primary *testcluster.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := primary.Exec(ctx,
		fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", monitorUser, monitorPassword),
		fmt.Sprintf("GRANT SLAVE MONITOR ON *.* TO '%s'@'%%'", monitorUser),
		fmt.Sprintf("GRANT CREATE, INSERT, DELETE, SELECT ON sentinel.* TO '%s'@'%%'", monitorUser)); err != nil {
		t.Fatal(err)
	}
}

// sentinel is one galera-sentinel process started by a test.
type sentinel struct {
	Base string // http://host:port
	Log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// freePort is a port nothing listens on at 127.0.0.1 now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe starts `serve --mode=replication` for node n, in the root
// namespace, over TCP with the monitoring account.
func startServe(t *testing.T, n *testcluster.Node, flags ...string) *sentinel {
	t.Helper()
	addr := freePort(t)
	args := append([]string{"serve", "--mode=replication", "--listen=" + addr, "--mysql-addr=" + n.Addr(),
		"--mysql-user=" + monitorUser, "--log-format=text", "--events-file=off"}, flags...)
	return startSentinel(t, n.Name, addr, args, []string{"GALERA_SENTINEL_MYSQL_PASSWORD=" + monitorPassword, "GALERA_SENTINEL_TOKEN=" + token})
}

// startSentinel runs the binary with args until the test ends; its log is
// printed when the test failed.
func startSentinel(t *testing.T, name, addr string, args, env []string) *sentinel {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+"-sentinel.log")
	out, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sentinelBinary(t), args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	s := &sentinel{Base: "http://" + addr, Log: log, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			t.Logf("%s sentinel log (last lines):\n%s", name, lastLines(string(b), 40))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := get(s.Base + "/livez"); err == nil {
			return s
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(log)
			t.Fatalf("%s sentinel exited: %s", name, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sentinel not listening on %s", name, addr)
		}
	}
}

func (s *sentinel) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

// get returns the status code and body of a GET.
func get(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

// waitProbe polls url until it answers code with a body containing want,
// and returns how long that took; it fails the test after limit.
func waitProbe(t *testing.T, url string, code int, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var lastCode int
	var last string
	for time.Since(start) < limit {
		c, body, err := get(url)
		if err == nil && c == code && strings.Contains(body, want) {
			return time.Since(start)
		}
		lastCode, last = c, body
		if err != nil {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: no %d %q within %s; last %d %q", url, code, want, limit, lastCode, last)
	return 0
}

// statusDoc is the part of GET /status the tests read.
type statusDoc struct {
	Ready struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
	} `json:"ready"`
	Sample *struct {
		Role       string   `json:"role"`
		IORunning  string   `json:"io_running"`
		LagSeconds *float64 `json:"lag_seconds"`
		LagSource  string   `json:"lag_source"`
		SlavePos   string   `json:"gtid_slave_pos"`
		BinlogPos  string   `json:"gtid_binlog_pos"`
	} `json:"sample"`
}

func status(t *testing.T, s *sentinel) statusDoc {
	t.Helper()
	code, body, err := get(s.Base + "/status")
	if err != nil || code != 200 {
		t.Fatalf("%s/status: %d %v", s.Base, code, err)
	}
	var d statusDoc
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("%s/status: %v: %s", s.Base, err, body)
	}
	return d
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// writer inserts numbered rows into t.seq on db's primary every interval
// until stopped, and counts what was acknowledged.
type writer struct {
	stop chan struct{}
	done chan struct{}
	acks int
}

func startWriter(t *testing.T, primary *testcluster.Node, every time.Duration) *writer {
	t.Helper()
	ctx := context.Background()
	if err := primary.Exec(ctx, "CREATE DATABASE IF NOT EXISTS t", "CREATE TABLE IF NOT EXISTS t.seq (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))"); err != nil {
		t.Fatal(err)
	}
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(every):
			}
			if err := primary.Exec(ctx, "INSERT INTO t.seq (at) VALUES (NOW(6))"); err == nil {
				w.acks++
			}
		}
	}()
	t.Cleanup(w.Stop)
	return w
}

// Stop stops the writer (idempotent) and returns the acknowledged rows.
func (w *writer) Stop() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}
