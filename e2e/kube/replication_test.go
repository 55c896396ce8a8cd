//go:build e2ek8s

package kube

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// S9 runs last (TestE2E's order): it stops the Galera StatefulSet the
// others share.

// replNS is the namespace of overlays/e2e-replication: "db", the one the
// variant's haproxy.cfg names.
const replNS = "db"

func replOverlay(t *testing.T) string {
	repo, err := testkube.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(repo, "deploy/kubernetes/overlays/e2e-replication")
}

func replPods(ctx context.Context) (map[string]pod, error) {
	out, err := cluster.Kubectl(ctx, "-n", replNS, "get", "pods", "-l", "app=mariadb", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct{ Items []pod }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	m := map[string]pod{}
	for _, p := range list.Items {
		m[p.Metadata.Name] = p
	}
	return m, nil
}

func replQuery(ctx context.Context, podName, q string) (string, error) {
	out, err := cluster.Kubectl(ctx, "-n", replNS, "exec", podName, "-c", "mariadb", "--", "mariadb", "-S", "/run/mysqld/mysqld.sock", "-N", "-B", "-e", q)
	return strings.TrimSpace(out), err
}

// replicaState is what SHOW SLAVE STATUS says of a replica's threads.
func replicaState(ctx context.Context, podName string) (map[string]string, error) {
	out, err := cluster.Kubectl(ctx, "-n", replNS, "exec", podName, "-c", "mariadb", "--", "mariadb", "-S", "/run/mysqld/mysqld.sock", "-e", "SHOW SLAVE STATUS\\G")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ": "); ok {
			m[k] = v
		} else if k, ok := strings.CutSuffix(strings.TrimSpace(l), ":"); ok {
			m[k] = ""
		}
	}
	return m, nil
}

func writerz(ctx context.Context, ip string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":9200/writerz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// checkWriterz: /writerz is 200 on mariadb-0 and 503 on the replicas.
func checkWriterz(t *testing.T, ctx context.Context) {
	t.Helper()
	ps, err := replPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range replicas {
		name := fmt.Sprintf("mariadb-%d", i)
		code, err := writerz(ctx, ps[name].Status.PodIP)
		if err != nil {
			t.Errorf("%s /writerz: %v", name, err)
		}
		got[name] = code
		if want := map[bool]int{true: 200, false: 503}[i == 0]; code != want {
			t.Errorf("%s /writerz %d, want %d", name, code, want)
		}
	}
	t.Logf("/writerz: %v", got)
}

// replVerify: every acknowledged row on every member, each replica waited
// for up to the primary's position, both threads running, no error.
func replVerify(t *testing.T, ctx context.Context, acked map[int64]string) {
	t.Helper()
	pos, err := replQuery(ctx, "mariadb-0", "SELECT @@gtid_binlog_pos")
	if err != nil {
		t.Fatal(err)
	}
	for i := range replicas {
		name := fmt.Sprintf("mariadb-%d", i)
		if i > 0 {
			t0 := time.Now()
			if out, err := replQuery(ctx, name, fmt.Sprintf("SELECT MASTER_GTID_WAIT('%s', 60)", pos)); err != nil || out != "0" {
				t.Errorf("%s: MASTER_GTID_WAIT(%s) = %q %v", name, pos, out, err)
				continue
			}
			st, err := replicaState(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if st["Slave_IO_Running"] != "Yes" || st["Slave_SQL_Running"] != "Yes" || st["Last_SQL_Errno"] != "0" || st["Last_IO_Errno"] != "0" {
				t.Errorf("%s: IO %s SQL %s, errors %s/%s %s %s", name, st["Slave_IO_Running"], st["Slave_SQL_Running"],
					st["Last_IO_Errno"], st["Last_SQL_Errno"], st["Last_IO_Error"], st["Last_SQL_Error"])
			}
			t.Logf("%s at the primary's %s %s later, replicating from %s", name, pos, time.Since(t0).Round(time.Millisecond), st["Master_Host"])
		}
		out, err := replQuery(ctx, name, "SELECT id FROM e2e.t")
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, l := range strings.Fields(out) {
			have[l] = true
		}
		missing := 0
		for id := range acked {
			if !have[fmt.Sprint(id)] {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d acknowledged rows missing", name, missing, len(acked))
		} else {
			t.Logf("%s: all %d acknowledged rows present (%d rows in the table)", name, len(acked), len(have))
		}
	}
}

// 9. The replication variant (deploy/kubernetes/replication, through
// overlays/e2e-replication): apply → the primary mariadb-0 and two
// replicas cloned from it (mariadb-backup streamed from its sentinel)
// Ready with no human action; writes through the variant's in-cluster
// HAProxy (Deployment and Service mariadb-writer, from an image built
// here) reach every replica; a deleted replica pod
// resumes from its volume with every row and no replication error;
// /writerz is 200 on mariadb-0 only. The Galera members are stopped first
// (2 cores).
func testS9Replication(t *testing.T) {
	ctx := testCtx(t, 25*time.Minute)
	t0 := time.Now()
	kubectl(t, ctx, "-n", ns, "scale", "statefulset", "galera", "--replicas=0")
	waitUntil(t, ctx, "no Galera pod left", time.Second, func() error {
		ps, err := pods(ctx)
		if err != nil {
			return err
		}
		if len(ps) > 0 {
			return fmt.Errorf("%d Galera pods", len(ps))
		}
		return nil
	})
	t.Logf("Galera StatefulSet scaled to 0 in %s", time.Since(t0).Round(100*time.Millisecond))

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		t0 := time.Now()
		// The pods first: the namespace controller, seeing pods in a
		// namespace being deleted, looks again only after their grace
		// period (420 s), even when they are gone in seconds.
		for _, args := range [][]string{{"statefulset", "mariadb"}, {"pods", "--all"}, {"pvc", "--all"}} {
			args = append([]string{"-n", replNS, "delete", "--ignore-not-found", "--wait=true", "--timeout=3m"}, args...)
			if out, err := cluster.Kubectl(ctx, args...); err != nil {
				t.Errorf("%v: %v %s", args, err, out)
			}
		}
		if out, err := cluster.Kubectl(ctx, "delete", "namespace", replNS, "--wait=true", "--timeout=2m"); err != nil {
			t.Errorf("delete namespace %s: %v %s", replNS, err, out)
		} else {
			t.Logf("namespace %s deleted in %s", replNS, time.Since(t0).Round(100*time.Millisecond))
		}
	})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, _ := cluster.Kubectl(ctx, "-n", replNS, "get", "pods", "-o", "wide")
		t.Logf("pods:\n%s", out)
		for i := range replicas {
			name := fmt.Sprintf("mariadb-%d", i)
			for _, prev := range []bool{false, true} {
				args := []string{"-n", replNS, "logs", name, "-c", "mariadb", "--tail=60"}
				if prev {
					args = append(args, "--previous")
				}
				if out, err := cluster.Kubectl(ctx, args...); err == nil {
					t.Logf("%s logs (previous %v):\n%s", name, prev, out)
				}
			}
		}
	})

	t1 := time.Now()
	kubectl(t, ctx, "apply", "-k", replOverlay(t), "--server-side", "--validate=strict")
	readyAt := map[string]time.Duration{}
	waitUntil(t, ctx, "3 Ready mariadb pods", time.Second, func() error {
		ps, err := replPods(ctx)
		if err != nil {
			return err
		}
		for name, p := range ps {
			if _, ok := readyAt[name]; !ok && p.ready() {
				readyAt[name] = time.Since(t1).Round(100 * time.Millisecond)
			}
		}
		if len(readyAt) != replicas {
			return fmt.Errorf("Ready: %v", readyAt)
		}
		return nil
	})
	t.Logf("apply → Ready: %v (the replicas cloned from mariadb-0 by the sentinels)", readyAt)
	for i := 1; i < replicas; i++ {
		name := fmt.Sprintf("mariadb-%d", i)
		logs, _ := cluster.Kubectl(ctx, "-n", replNS, "logs", name, "-c", "mariadb")
		lines := append(grepLines(logs, "backup received"), grepLines(logs, "clone prepared")...)
		if len(lines) == 0 {
			t.Errorf("%s: no clone in its log", name)
		}
		for _, l := range lines {
			t.Logf("%s: %s", name, l)
		}
	}
	roles := map[string]string{}
	for i := range replicas {
		name := fmt.Sprintf("mariadb-%d", i)
		out, err := replQuery(ctx, name, "SELECT @@read_only, @@server_id")
		if err != nil {
			t.Fatal(err)
		}
		roles[name] = out
	}
	t.Logf("read_only, server_id: %q", roles)
	checkWriterz(t, ctx)

	if _, err := replQuery(ctx, "mariadb-0", fmt.Sprintf(
		"CREATE USER IF NOT EXISTS '%[1]s'@'%%' IDENTIFIED BY '%[2]s'; GRANT ALL ON e2e.* TO '%[1]s'@'%%'; "+
			"CREATE DATABASE IF NOT EXISTS e2e; "+
			"CREATE TABLE IF NOT EXISTS e2e.t (id BIGINT PRIMARY KEY, host VARCHAR(64) NOT NULL, at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))",
		appUser, appPass)); err != nil {
		t.Fatal(err)
	}

	// The in-cluster HAProxy of the variant (Deployment mariadb-writer,
	// two pods, the shipped haproxy.cfg), reached through its Service.
	kubectl(t, ctx, "-n", replNS, "rollout", "status", "deployment/mariadb-writer", "--timeout=3m")
	ip := strings.TrimSpace(kubectl(t, ctx, "-n", replNS, "get", "service", "mariadb-writer", "-o", "jsonpath={.spec.clusterIP}"))
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = appUser, appPass, "tcp", ip+":3306", "e2e"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 10*time.Second, 10*time.Second
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(0) // a connection per transaction
	// Each HAProxy pod must have found mariadb-0 UP (by DNS, /writerz)
	// before the writes count: a few in a row, through both pods.
	waitUntil(t, ctx, "writes through the in-cluster HAProxy land on mariadb-0", 500*time.Millisecond, func() error {
		for range 6 {
			var host string
			if err := db.QueryRowContext(ctx, "SELECT @@hostname").Scan(&host); err != nil {
				return err
			}
			if !strings.HasPrefix(host, "mariadb-0") {
				return fmt.Errorf("routed to %s", host)
			}
		}
		return nil
	})

	w := startWriter(db, 1, 20*time.Millisecond)
	time.Sleep(5 * time.Second)

	// A replica pod deleted while the writes go on: it comes back on its
	// volume and resumes from its gtid_slave_pos.
	const victim = "mariadb-2"
	before, err := replPods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tDel := time.Now()
	kubectl(t, ctx, "-n", replNS, "delete", "pod", victim, "--wait=false")
	waitUntil(t, ctx, "the new "+victim+" Ready", time.Second, func() error {
		ps, err := replPods(ctx)
		if err != nil {
			return err
		}
		p, ok := ps[victim]
		if !ok || p.Metadata.UID == before[victim].Metadata.UID || !p.ready() {
			return fmt.Errorf("new %s not Ready", victim)
		}
		return nil
	})
	back := time.Since(tDel)
	time.Sleep(3 * time.Second)
	st := w.stop()
	t.Logf("replica %s deleted → Ready again in %s", victim, back.Round(100*time.Millisecond))
	t.Logf("writes through the in-cluster HAProxy (Service mariadb-writer): %d attempted, %d committed, %d failed; by member %v",
		st.Attempts, len(st.Acked), len(st.Failures), st.byHost())
	logFailures(t, st)
	if len(st.Failures) > 0 {
		t.Errorf("%d failed writes through the writer listener", len(st.Failures))
	}
	if len(st.Acked) < 100 {
		t.Errorf("only %d writes committed: the writer did not really run", len(st.Acked))
	}
	if hosts := st.byHost(); len(hosts) != 1 || !strings.HasPrefix(firstKey(hosts), "mariadb-0") {
		t.Errorf("writes committed on %v, want mariadb-0 only", hosts)
	}
	logs, _ := cluster.Kubectl(ctx, "-n", replNS, "logs", victim, "-c", "mariadb")
	if l := grepLines(logs, "backup received"); len(l) > 0 {
		t.Errorf("%s was cloned again instead of resuming from its volume: %v", victim, l)
	}
	for _, l := range grepLines(logs, "replica: following") {
		t.Logf("%s: %s", victim, l)
	}
	replVerify(t, ctx, st.Acked)
	checkWriterz(t, ctx)
	t.Logf("S9 total %s", time.Since(t0).Round(100*time.Millisecond))
}

func firstKey(m map[string]int) string {
	for k := range m {
		return k
	}
	return ""
}
