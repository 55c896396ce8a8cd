package config

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// Passwords with every character the quoting must get right.
const (
	accRootPassword = `r00t'pa"ss\word$(x)`
	accAppPassword  = `app'pa\ss%_` + "`w"
)

// tcpDB connects to a member over TCP as user with password.
func tcpDB(t *testing.T, n *testcluster.Node, user, password, database string) *sql.DB {
	t.Helper()
	c := mysql.NewConfig()
	c.Net, c.Addr, c.User, c.Passwd, c.DBName = "tcp", n.Addr(), user, password, database
	c.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRunAccountsAndInitdb: three members with empty data directories,
// the default initialisation (mariadb-install-db), the official image's
// variables (a _FILE, a MYSQL_ alias) and an initdb directory with a .sql,
// a .sql.gz and a .sh, mariabackup state transfers and no wsrep_sst_auth.
// A bad script first: the initialisation fails with the script's error,
// the data directory ends empty, and once the script is fixed the retry
// builds the cluster. Then the application user logs in over TCP with its
// password on every member (the joiners got the accounts, the InnoDB and
// the MyISAM tables by mariabackup SST, which authenticated by
// unix_socket as mysql), root@'%' works with its password, root@localhost
// with its password and still by unix_socket, and no log shows a
// password.
func TestRunAccountsAndInitdb(t *testing.T) {
	testcluster.RequireBinary(t, "mariabackup")
	testcluster.RequireBinary(t, "mariadb")
	testcluster.RequireBinary(t, "socat")
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3, ExtraConfig: "wsrep_sst_method=mariabackup"})
	shared := filepath.Dir(rc.C.Nodes[0].Dir)
	initdb := filepath.Join(shared, "initdb.d")
	if err := os.Mkdir(initdb, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(initdb, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("01-schema.sql", []byte("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));\nINSERT INTO t VALUES (1, 'sql');\n"), 0o644)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("INSERT INTO t VALUES (2, 'gz');\nCREATE TABLE m (id INT) ENGINE=MyISAM;\nINSERT INTO m VALUES (7);\n"))
	zw.Close()
	write("02-data.sql.gz", gz.Bytes(), 0o644)
	// Not executable: run with sh; a plain mariadb reaches the temporary
	// server through MYSQL_UNIX_PORT.
	write("03-more.sh", []byte("mariadb -e \"INSERT INTO appdb.t VALUES (3, 'sh')\"\n"), 0o644)
	write("04-bad.sql", []byte("INSERT INTO no_such_table VALUES (1);\n"), 0o644)
	write("README.txt", []byte("ignored\n"), 0o644)

	pwFile := filepath.Join(shared, "app-password")
	if err := os.WriteFile(pwFile, []byte(accAppPassword+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MARIADB_ROOT_PASSWORD", accRootPassword)
	t.Setenv("MYSQL_DATABASE", "appdb")
	t.Setenv("MARIADB_USER", "app")
	t.Setenv("MARIADB_PASSWORD_FILE", pwFile)
	flags := rc.Flags
	rc.Flags = func(n *testcluster.Node) []string {
		var f []string
		for _, s := range flags(n) {
			if !strings.HasPrefix(s, "--init-command=") {
				f = append(f, s)
			}
		}
		return append(f, "--initdb-dir="+initdb)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	begin := time.Now()
	rc.StartAll()
	n1 := rc.C.Nodes[0]
	// The try the bad script fails: its error, then the cleanup. A try
	// before it may fail in mariadb-install-db itself (seen once on a
	// loaded machine) and is tried again by the sentinel like any other.
	scriptFailed := func() bool {
		b, _ := os.ReadFile(n1.SentinelLog())
		i := strings.Index(string(b), "no_such_table")
		return i >= 0 && strings.Contains(string(b[i:]), "emptied the data directory after a failed initialisation")
	}
	for !scriptFailed() {
		if ctx.Err() != nil {
			t.Fatalf("the bad script did not fail the initialisation:\n%s", testsentinel.TailFile(n1.SentinelLog(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Hold the sentinel between its attempts to look at the directory.
	if err := n1.Freeze(); err != nil {
		t.Fatal(err)
	}
	// The whole log: the next try's mariadb-install-db output can push
	// the failure out of any tail before the freeze.
	if testsentinel.CountLogs(n1, "04-bad.sql") == 0 || testsentinel.CountLogs(n1, "no_such_table") == 0 {
		t.Errorf("the failure does not name the script and its error:\n%s", testsentinel.TailFile(n1.SentinelLog(), 40))
	}
	entries, err := os.ReadDir(n1.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "galera-sentinel-events") && e.Name() != "lost+found" {
			t.Errorf("after the failed initialisation %s holds %s", n1.DataDir, e.Name())
		}
	}
	write("04-bad.sql", []byte("INSERT INTO t VALUES (4, 'fixed');\n"), 0o644)
	if err := n1.Thaw(); err != nil {
		t.Fatal(err)
	}
	rc.WaitSynced(ctx, 3)
	t.Logf("failed initialisation, script fixed, retry: three Synced in %v", time.Since(begin).Round(time.Millisecond))

	for _, n := range rc.C.Nodes {
		app := tcpDB(t, n, "app", accAppPassword, "appdb")
		var rows, myisam int64
		if err := app.QueryRowContext(ctx, "SELECT /*+ wsrep_sync_wait */ COUNT(*) FROM t").Scan(&rows); err != nil || rows != 4 {
			t.Errorf("%s: app over TCP: %d rows of t (want 4), %v", n.Name, rows, err)
		}
		if err := app.QueryRowContext(ctx, "SELECT id FROM m").Scan(&myisam); err != nil || myisam != 7 {
			t.Errorf("%s: app: MyISAM table m: %d, %v", n.Name, myisam, err)
		}
		if _, err := app.ExecContext(ctx, "CREATE TABLE other.x (id INT)"); err == nil {
			t.Errorf("%s: app could create a table outside appdb", n.Name)
		}
		if err := tcpDB(t, n, "app", "wrong", "appdb").PingContext(ctx); err == nil {
			t.Errorf("%s: app logged in with a wrong password", n.Name)
		}
		var one int
		if err := tcpDB(t, n, "root", accRootPassword, "").QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Errorf("%s: root@'%%' over TCP: %v", n.Name, err)
		}
		// root@localhost: the password over the socket, and unix_socket
		// (the harness connects as root with none).
		c := mysql.NewConfig()
		c.Net, c.Addr, c.User, c.Passwd = "unix", n.Socket, "root", accRootPassword
		conn, _ := mysql.NewConnector(c)
		rootSock := sql.OpenDB(conn)
		if err := rootSock.PingContext(ctx); err != nil {
			t.Errorf("%s: root@localhost with its password: %v", n.Name, err)
		}
		rootSock.Close()
		if got, err := n.QueryInt(ctx, "SELECT COUNT(*) FROM mysql.global_priv WHERE user='root' AND host='localhost' AND priv LIKE '%unix_socket%' AND priv LIKE '%mysql_native_password%'"); err != nil || got != 1 {
			t.Errorf("%s: root@localhost is not unix_socket OR mysql_native_password: %d, %v", n.Name, got, err)
		}
	}
	for _, n := range rc.C.Nodes[1:] {
		b, err := os.ReadFile(n.ErrorLog)
		if err != nil || !strings.Contains(string(b), "wsrep_sst_mariabackup --role 'joiner'") && !strings.Contains(string(b), "wsrep_sst_mariabackup --role joiner") {
			t.Errorf("%s did not join by mariabackup SST (%v):\n%s", n.Name, err, testsentinel.TailFile(n.ErrorLog, 30))
		}
	}
	if got := testsentinel.CountLogs(n1, "new_cluster=true"); got != 1 {
		t.Errorf("node1 started %d new clusters, want 1", got)
	}
	for _, n := range rc.C.Nodes {
		b, _ := os.ReadFile(n.SentinelLog())
		e, _ := os.ReadFile(n.ErrorLog)
		for _, pw := range []string{accRootPassword, accAppPassword} {
			if bytes.Contains(b, []byte(pw)) || bytes.Contains(e, []byte(pw)) {
				t.Errorf("%s: a password is in the logs", n.Name)
			}
		}
	}
}

// TestRunAccountsAsRoot: the sentinel runs as root and mariadbd drops to
// user=mysql (the temporary server too, with its private socket). A user
// without a password is refused with a clear error and nothing is left in
// the data directory; with the password (from MYSQL_PASSWORD) the next
// start initialises: an executable .sh and a .sql.zst run, the user logs
// in, and root keeps its unix_socket login.
func TestRunAccountsAsRoot(t *testing.T) {
	testcluster.RequireBinary(t, "mariadb")
	testcluster.RequireBinary(t, "zstd")
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 1, ExtraConfig: "user=mysql"})
	n := rc.C.Nodes[0]
	initdb := filepath.Join(filepath.Dir(n.Dir), "initdb.d")
	if err := os.Mkdir(initdb, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(initdb, "10-table.sh"), []byte("#!/bin/sh\nset -e\nmariadb shop -e 'CREATE TABLE r (id INT PRIMARY KEY)'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	zst := exec.Command("zstd", "-q", "-o", filepath.Join(initdb, "20-rows.sql.zst"))
	zst.Stdin = strings.NewReader("INSERT INTO r VALUES (1), (2), (3);\n")
	if out, err := zst.CombinedOutput(); err != nil {
		t.Fatalf("zstd: %v %s", err, out)
	}
	t.Setenv("MARIADB_DATABASE", "shop")
	t.Setenv("MARIADB_USER", "clerk")
	flags := rc.Flags
	start := func() {
		t.Helper()
		var f []string
		for _, s := range flags(n) {
			switch {
			case strings.HasPrefix(s, "--init-command="):
			case s == "--mysql-user=mysql":
				f = append(f, "--mysql-user=root") // unix_socket: the sentinel's OS user
			default:
				f = append(f, s)
			}
		}
		if err := n.StartRunAsRoot(rc.Bin, append(f, "--initdb-dir="+initdb)...); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	start()
	want := "MARIADB_USER=clerk is set without MARIADB_PASSWORD"
	testsentinel.WaitListening(t, n)
	testsentinel.WaitProbe(t, "http://"+n.SentinelAddr()+"/readyz", 503, want, 60*time.Second)
	rc.Stop(ctx, n)
	entries, _ := os.ReadDir(n.DataDir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "galera-sentinel-events") {
			t.Errorf("after the refused initialisation %s holds %s", n.DataDir, e.Name())
		}
	}

	t.Setenv("MYSQL_PASSWORD", accAppPassword)
	begin := time.Now()
	start()
	rc.WaitSynced(ctx, 1)
	t.Logf("sentinel as root, mariadbd as mysql: initialised and Synced in %v", time.Since(begin).Round(time.Millisecond))
	var rows int64
	if err := tcpDB(t, n, "clerk", accAppPassword, "shop").QueryRowContext(ctx, "SELECT COUNT(*) FROM r").Scan(&rows); err != nil || rows != 3 {
		t.Errorf("clerk over TCP: %d rows (want 3), %v", rows, err)
	}
	if got, err := n.QueryInt(ctx, "SELECT COUNT(*) FROM mysql.global_priv WHERE user='root'"); err != nil || got != 1 {
		t.Errorf("root (by unix_socket, no password set): %d accounts, %v; want only root@localhost", got, err)
	}
	if st, err := os.Stat(filepath.Join(n.DataDir, "shop", "r.ibd")); err != nil || fileUID(st) == 0 {
		t.Errorf("shop/r.ibd: %v; the temporary server must run as mysql", err)
	}
	b, _ := os.ReadFile(n.SentinelLog())
	if bytes.Contains(b, []byte(accAppPassword)) {
		t.Error("the password is in the sentinel's log")
	}
}

func fileUID(st os.FileInfo) uint32 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Uid
	}
	return 0
}
