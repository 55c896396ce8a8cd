package main

import (
	"bufio"
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

	"github.com/galera-sentinel/galera-sentinel/internal/demo"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestMakeDemo runs `make demo` as a new user would, waits for the
// cluster table with three ready members, writes through HAProxy, then
// presses Ctrl-C (SIGINT to the foreground process group, as a terminal
// does) and checks that no process and no directory is left behind.
func TestMakeDemo(t *testing.T) {
	testcluster.Require(t)
	testcluster.RequireBinary(t, "haproxy")
	testcluster.RequireBinary(t, "make")
	// The members run as mysql, which must reach the work directory.
	work := t.TempDir()
	for _, d := range []string{work, filepath.Dir(work)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("make", "-s", "demo")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "GALERA_SENTINEL_WORKDIR="+work)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	defer func() {
		select {
		case <-exited:
		default:
			// make and the demo die; the members get SIGTERM through
			// their parent-death signal and stop mariadbd.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}()

	lines := make(chan string, 1000)
	var transcript strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	begin := time.Now()
	deadline := time.After(4 * time.Minute)
	table, connect := false, false
	for !(table && connect) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make demo ended before the cluster was up:\n%s", transcript.String())
			}
			transcript.WriteString(l + "\n")
			table = table || strings.Contains(l, "cluster: 3 of 3 members ready")
			connect = connect || strings.Contains(l, "connect (any ready member): mariadb -h 127.0.0.1 -P 13306")
		case <-deadline:
			t.Fatalf("no ready cluster after 4 minutes:\n%s", transcript.String())
		}
	}
	t.Logf("make demo: 3 of 3 ready after %v", time.Since(begin).Round(100*time.Millisecond))

	// The table shows each member ready and UP in HAProxy.
	for _, n := range []string{"node1", "node2", "node3"} {
		if !strings.Contains(transcript.String(), n+" ") {
			t.Errorf("the table does not show %s", n)
		}
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = demo.User, demo.Password, "tcp", demo.ReadersAddr, demo.User
	cfg.Timeout = 3 * time.Second
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var size int
	if err := db.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_SIZE'").Scan(&size); err != nil || size != 3 {
		t.Errorf("through HAProxy: cluster size %d, %v", size, err)
	}
	db.Close()

	// Ctrl-C.
	stopAt := time.Now()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go func() {
		for l := range lines {
			transcript.WriteString(l + "\n")
		}
		cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(4 * time.Minute):
		t.Fatalf("make demo still running 4 minutes after Ctrl-C:\n%s", transcript.String())
	}
	t.Logf("Ctrl-C -> make demo exited in %v", time.Since(stopAt).Round(100*time.Millisecond))
	if !strings.Contains(transcript.String(), "galera-sentinel demo: stopped; removed ") {
		t.Errorf("the demo did not say it cleaned up:\n%s", transcript.String())
	}
	if entries, err := os.ReadDir(work); err != nil || len(entries) != 0 {
		t.Errorf("left behind in the work directory: %v %v", entries, err)
	}
	if left := processesMentioning(work); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
}

// processesMentioning lists the command lines that contain needle.
func processesMentioning(needle string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), needle) {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}
