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
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

func TestMain(m *testing.M) { testsentinel.Main(m) }

// The harness shared with the Galera tests, under this package's names.
type sentinel = testsentinel.Sentinel

var (
	sentinelBinary = testsentinel.Binary
	freePort       = testsentinel.FreePort
	startSentinel  = testsentinel.Start
	waitProbe      = testsentinel.WaitProbe
	lastLines      = testsentinel.LastLines
)

// The monitoring account the sentinels use; created on the primary, it
// reaches the replicas by replication.
const (
	monitorUser     = "sentinel"
	monitorPassword = "sentinel-test-password-8d1e"
	token           = "replication-test-token-0123456789abcdef"
)

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

// startServe starts `serve --mode=replication` for node n, in the root
// namespace, over TCP with the monitoring account.
func startServe(t *testing.T, n *testcluster.Node, flags ...string) *sentinel {
	t.Helper()
	addr := freePort(t)
	args := append([]string{"serve", "--mode=replication", "--listen=" + addr, "--mysql-addr=" + n.Addr(),
		"--mysql-user=" + monitorUser, "--log-format=text", "--events-file=off"}, flags...)
	return startSentinel(t, n.Name, addr, args, []string{"GALERA_SENTINEL_MYSQL_PASSWORD=" + monitorPassword, "GALERA_SENTINEL_TOKEN=" + token})
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
