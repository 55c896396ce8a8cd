package config

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// sameHostLayout rewrites the nodes' my.cnf as many users lay out a test
// cluster: every member on one address, told apart by its ports, with
// the data directory, the socket, the cluster address and user=mysql only
// in the file. It returns each member's sentinel address.
func sameHostLayout(t *testing.T, c *testcluster.Cluster) []string {
	t.Helper()
	host := c.Nodes[0].Host
	var members, sentinels []string
	for i := range c.Nodes {
		members = append(members, fmt.Sprintf("%s:%d", host, testcluster.GcommPort+10*i))
		sentinels = append(sentinels, fmt.Sprintf("%s:%d", host, testcluster.SentinelPort+i))
	}
	for i, n := range c.Nodes {
		cnf := fmt.Sprintf(`[mysqld]
user=mysql
datadir=%[1]s
socket=%[2]s
pid-file=%[3]s/mysqld.pid
log-error=%[4]s
bind-address=%[5]s
port=%[6]d
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=16M
innodb_log_file_size=16M
max_connections=60
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
[galera]
wsrep_on=ON
wsrep_provider=%[7]s
wsrep_cluster_name=same-host
wsrep_cluster_address=gcomm://%[8]s
wsrep_node_name=%[9]s
wsrep_node_address=%[5]s:%[10]d
wsrep_sst_method=rsync
wsrep_sst_receive_address=%[5]s:%[11]d
wsrep_provider_options="gmcast.listen_addr=tcp://%[5]s:%[10]d;ist.recv_addr=%[5]s:%[12]d;gcache.size=32M;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S"
`, n.DataDir, n.Socket, n.Dir, n.ErrorLog, host, testcluster.ClientPort+10*i, testcluster.ProviderPath,
			strings.Join(members, ","), n.Name, testcluster.GcommPort+10*i, testcluster.SSTPort+10*i, testcluster.ISTPort+10*i)
		if err := os.WriteFile(n.ConfigFile, []byte(cnf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sentinels
}

// TestRunAsRootWithMyCnfLayout: the classic VM layout. The sentinel runs
// as root, mariadbd drops to user=mysql, and the data directory, socket,
// ports and cluster address are only in my.cnf (three members on one
// address, apart by their ports). They form a cluster with no --datadir,
// --mysql-addr or --gcomm-port, survive kill -9 of every sentinel and
// mariadbd at once, and come back with every row: --wsrep-recover, run for
// a mariadbd that drops to mysql, finds the position.
func TestRunAsRootWithMyCnfLayout(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	sentinels := sameHostLayout(t, rc.C)
	tmpl, err := rc.C.Template()
	if err != nil {
		t.Fatal(err)
	}
	start := func(i int) {
		n := rc.C.Nodes[i]
		err := n.StartRunAsRoot(rc.Bin, "--node-name="+n.Name, "--expected-size=3", "--peers="+strings.Join(sentinels, ","),
			"--listen="+sentinels[i], "--token-file="+rc.Token, "--mysql-user=root",
			"--poll-interval=250ms", "--max-staleness=2s", "--decide-interval=300ms", "--peer-timeout=1s", "--shutdown-timeout=60s",
			"--log-format=text", "--init-command=cp -a "+tmpl+"/. \"$DATADIR\"/ && chown -R mysql:mysql \"$DATADIR\"")
		if err != nil {
			t.Fatal(err)
		}
	}
	startAll := func() {
		var wg sync.WaitGroup
		for i := range rc.C.Nodes {
			wg.Add(1)
			go func() { defer wg.Done(); start(i) }()
		}
		wg.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	waitReady := func(size int) time.Duration {
		begin := time.Now()
		want := fmt.Sprintf("ready: Primary, Synced, size %d", size)
		for i, addr := range sentinels {
			for {
				code, body, err := testsentinel.TryProbe("http://" + addr + "/readyz")
				if err == nil && code == 200 && body == want {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("%s: %d %q %v\n%s", rc.C.Nodes[i].Name, code, body, err, testsentinel.TailFile(rc.C.Nodes[i].SentinelLog(), 20))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		return time.Since(begin)
	}

	startAll()
	t.Logf("three members from my.cnf alone: Synced in %v", waitReady(3).Round(time.Millisecond))
	for _, n := range rc.C.Nodes {
		log := testsentinel.TailFile(n.SentinelLog(), 400)
		if !strings.Contains(log, "datadir="+n.DataDir) || !strings.Contains(log, "mysql_addr="+n.Socket) {
			t.Errorf("%s did not take its datadir and socket from my.cnf:\n%s", n.Name, testsentinel.TailFile(n.SentinelLog(), 5))
		}
		if strings.Contains(log, "--datadir=") || strings.Contains(log, "--wsrep-cluster-address=") {
			t.Errorf("%s overrode my.cnf on mariadbd's command line", n.Name)
		}
	}
	n1 := rc.C.Nodes[0]
	if err := n1.Exec(ctx, "CREATE DATABASE k", "CREATE TABLE k.r (id INT PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	const rows = 120
	for i := 1; i <= rows; i++ {
		if err := n1.Exec(ctx, fmt.Sprintf("INSERT INTO k.r VALUES (%d)", i)); err != nil {
			t.Fatal(err)
		}
	}
	rc.KillAll()
	begin := time.Now()
	startAll()
	waitReady(3)
	t.Logf("kill -9 of every sentinel and mariadbd: back to three Synced in %v", time.Since(begin).Round(time.Millisecond))
	recovered := 0
	for _, n := range rc.C.Nodes {
		recovered += testsentinel.CountLogs(n, "recovered position")
		got, err := n.QueryInt(ctx, "SELECT /*+ wsrep_sync_wait */ COUNT(*) FROM k.r")
		if err != nil {
			t.Fatal(err)
		}
		if got != rows {
			t.Errorf("%s: %d of %d rows", n.Name, got, rows)
		}
		owner := filepath.Join(n.DataDir, "grastate.dat")
		if st, err := os.Stat(owner); err != nil {
			t.Errorf("%s: %v", n.Name, err)
		} else if uid := fileUID(st); uid == 0 {
			t.Errorf("%s: grastate.dat belongs to root: mariadbd did not run as mysql", n.Name)
		}
	}
	if recovered == 0 {
		t.Error("no sentinel recovered a position with --wsrep-recover after kill -9")
	}
}

// TestRunContradictingDatadir: a --datadir that names another directory
// than mariadbd's configuration is refused before anything starts.
func TestRunContradictingDatadir(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 1})
	n := rc.C.Nodes[0]
	rc.Start(n, "--datadir=/var/lib/elsewhere")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := n.ExitCode(ctx)
	if err != nil || code != 1 {
		t.Fatalf("sentinel exit %d, %v; want 1", code, err)
	}
	log := testsentinel.TailFile(n.SentinelLog(), 5)
	if !strings.Contains(log, "--datadir=/var/lib/elsewhere, but mariadbd's configuration says datadir="+n.DataDir) || !strings.Contains(log, "nothing was started") {
		t.Errorf("no clear refusal:\n%s", log)
	}
	if n.MariadbdPid() != 0 {
		t.Error("mariadbd was started")
	}
}

// TestRunFullCrashWithoutClusterAddress: the configuration names no
// cluster (the sentinel passes the address, as the shipped Kubernetes
// manifests rely on), with rsync and with mariabackup state transfers.
// After kill -9 of every sentinel and mariadbd, --wsrep-recover must
// still run, although both SST scripts refuse to start without a cluster
// address, and every row is back; then a wiped member joins by a full
// state transfer of that method.
func TestRunFullCrashWithoutClusterAddress(t *testing.T) {
	for _, method := range []string{"rsync", "mariabackup"} {
		t.Run(method, func(t *testing.T) { fullCrashWithoutClusterAddress(t, method) })
	}
}

func fullCrashWithoutClusterAddress(t *testing.T, method string) {
	if method == "mariabackup" {
		testcluster.RequireBinary(t, "mariabackup")
	}
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	noAddress := regexp.MustCompile(`(?m)^wsrep_cluster_address=.*\n`)
	sstMethod := regexp.MustCompile(`(?m)^wsrep_sst_method=.*$`)
	for _, n := range rc.C.Nodes {
		b, err := os.ReadFile(n.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		b = sstMethod.ReplaceAll(noAddress.ReplaceAll(b, nil), []byte("wsrep_sst_method="+method))
		if err := os.WriteFile(n.ConfigFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// 6 min: the mariabackup variant took 3.9 with other packages running
	// beside it (go test -p), and ran out of 4 on a busier machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	n1 := rc.C.Nodes[0]
	stmts := []string{"CREATE DATABASE k", "CREATE TABLE k.r (id INT PRIMARY KEY)"}
	for i := 1; i <= 100; i++ {
		stmts = append(stmts, fmt.Sprintf("INSERT INTO k.r VALUES (%d)", i))
	}
	if err := n1.Exec(ctx, stmts...); err != nil {
		t.Fatal(err)
	}
	rc.KillAll()
	begin := time.Now()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	t.Logf("kill -9 of everything, no cluster address in my.cnf, %s SST: three Synced in %v", method, time.Since(begin).Round(time.Millisecond))
	if got := rc.CountLogs("recovered position"); got == 0 {
		t.Error("no member recovered its position with --wsrep-recover")
	}
	for _, n := range rc.C.Nodes {
		if got, err := n.QueryInt(ctx, "SELECT /*+ wsrep_sync_wait */ COUNT(*) FROM k.r"); err != nil || got != 100 {
			t.Errorf("%s: %d of 100 rows, %v", n.Name, got, err)
		}
	}

	// A full state transfer by the configured method.
	n3 := rc.C.Nodes[2]
	rc.Stop(ctx, n3)
	if err := n3.Wipe(); err != nil {
		t.Fatal(err)
	}
	begin = time.Now()
	rc.Start(n3)
	rc.WaitSynced(ctx, 3)
	t.Logf("wiped %s: Synced by %s SST in %v", n3.Name, method, time.Since(begin).Round(time.Millisecond))
	if b, err := os.ReadFile(n3.ErrorLog); err != nil || !strings.Contains(string(b), "wsrep_sst_"+method+" --role 'joiner'") && !strings.Contains(string(b), "wsrep_sst_"+method+" --role joiner") {
		t.Errorf("%s did not join by %s SST (%v):\n%s", n3.Name, method, err, testsentinel.TailFile(n3.ErrorLog, 30))
	}
	if got, err := n3.QueryInt(ctx, "SELECT /*+ wsrep_sync_wait */ COUNT(*) FROM k.r"); err != nil || got != 100 {
		t.Errorf("%s after SST: %d of 100 rows, %v", n3.Name, got, err)
	}
}
