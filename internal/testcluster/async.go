package testcluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The replication account StartAsync creates on the primary (and which the
// replicas receive through replication). Tests only.
const (
	ReplUser     = "repl"
	ReplPassword = "repl-test-password-4f9c"
)

// asyncConfig is a node's my.cnf for asynchronous replication: the same
// small buffers as a Galera node, no wsrep at all, a binary log with GTIDs
// in strict mode, and logs named after nothing that changes (not the host
// name), all inside the data directory so that a wiped disk takes them.
func (n *Node) asyncConfig() string {
	return fmt.Sprintf(`[mysqld]
datadir=%[1]s
socket=%[2]s
pid-file=%[3]s/mysqld.pid
tmpdir=%[3]s/tmp
log-error=%[4]s
bind-address=%[5]s
port=%[6]d
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=16M
innodb_log_file_size=16M
innodb_log_buffer_size=4M
innodb_flush_log_at_trx_commit=2
key_buffer_size=1M
max_connections=60
default_storage_engine=InnoDB
server_id=%[7]d
log_bin=binlog
log_slave_updates=ON
gtid_strict_mode=ON
binlog_format=ROW
relay_log=relay-bin
%[8]s
`, n.DataDir, n.Socket, n.Dir, n.ErrorLog, n.Host, ClientPort, n.Index, n.c.opts.ExtraConfig)
}

// StartAsync prepares an asynchronous replication set (Options.Async is
// implied) and brings it up: every node starts from the cluster's
// mariadb-install-db template; node1 is the primary (read_only=OFF, the
// account ReplUser/ReplPassword), the others are read-only replicas of
// node1 with MASTER_USE_GTID=slave_pos. It returns once every replica's IO
// and SQL threads run.
func StartAsync(t testing.TB, opts Options) *Cluster {
	t.Helper()
	opts.Async = true
	c := New(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.InitFromTemplate(); err != nil {
				errs[i] = err
				return
			}
			errs[i] = n.Start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	primary := c.Nodes[0]
	if err := primary.Exec(ctx,
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'", ReplUser, ReplPassword),
		fmt.Sprintf("GRANT REPLICATION SLAVE, SLAVE MONITOR ON *.* TO '%s'@'%%'", ReplUser),
		"SET GLOBAL read_only=OFF"); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	for _, n := range c.Nodes[1:] {
		if err := n.Exec(ctx, "SET GLOBAL read_only=ON"); err != nil {
			t.Fatalf("testcluster: %v", err)
		}
		if err := n.ChangeMaster(ctx, primary); err != nil {
			t.Fatalf("testcluster: %v", err)
		}
	}
	for _, n := range c.Nodes[1:] {
		if err := n.WaitReplicating(ctx); err != nil {
			t.Fatalf("testcluster: %v", err)
		}
	}
	t.Logf("testcluster: async set %s (primary %s, %d replicas) replicating in %v", c.Name, primary.Name,
		len(c.Nodes)-1, time.Since(begin).Round(time.Millisecond))
	return c
}

// InitFromTemplate fills an empty data directory from the cluster's
// mariadb-install-db template; a data directory that is not empty is left
// alone.
func (n *Node) InitFromTemplate() error {
	empty, err := dirEmpty(n.DataDir)
	if err != nil || !empty {
		return err
	}
	tmpl, err := n.c.prepareTemplate()
	if err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", tmpl+"/.", n.DataDir+"/").CombinedOutput(); err != nil {
		return fmt.Errorf("copy template: %w: %s", err, out)
	}
	return nil
}

// ExecArgs runs one statement with placeholders.
func (n *Node) ExecArgs(ctx context.Context, query string, args ...any) error {
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := n.DB().ExecContext(qctx, query, args...); err != nil {
		return fmt.Errorf("%s: %q: %w", n.Name, query, err)
	}
	return nil
}

// ChangeMaster points the node at primary (its client address, ReplUser)
// with MASTER_USE_GTID=slave_pos and starts both replication threads.
func (n *Node) ChangeMaster(ctx context.Context, primary *Node) error {
	return n.Exec(ctx, "STOP SLAVE",
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "+
			"MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1", primary.Host, ClientPort, ReplUser, ReplPassword),
		"START SLAVE")
}

// SlaveStatus is SHOW SLAVE STATUS as column name to value; nil when the
// node has no replica configuration.
func (n *Node) SlaveStatus(ctx context.Context) (map[string]string, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := n.DB().QueryContext(qctx, "SHOW SLAVE STATUS")
	if err != nil {
		return nil, fmt.Errorf("%s: SHOW SLAVE STATUS: %w", n.Name, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(cols))
	for i, c := range cols {
		m[c] = string(vals[i])
	}
	return m, rows.Err()
}

// WaitReplicating waits until the node's IO and SQL threads both run, the
// context ends or mariadbd exits. A replication error ends the wait at once.
func (n *Node) WaitReplicating(ctx context.Context) error {
	var last map[string]string
	var lastErr error
	for {
		n.mu.Lock()
		exited := n.exited
		n.mu.Unlock()
		if exited == nil {
			return fmt.Errorf("%s: waiting for replication: not running", n.Name)
		}
		last, lastErr = n.SlaveStatus(ctx)
		if lastErr == nil && last != nil {
			if last["Slave_IO_Running"] == "Yes" && last["Slave_SQL_Running"] == "Yes" {
				return nil
			}
			if last["Last_SQL_Errno"] != "0" || (last["Last_IO_Errno"] != "0" && last["Slave_IO_Running"] == "No") {
				return fmt.Errorf("%s: replication stopped: IO %s (%s: %s), SQL %s (%s: %s)", n.Name,
					last["Slave_IO_Running"], last["Last_IO_Errno"], last["Last_IO_Error"],
					last["Slave_SQL_Running"], last["Last_SQL_Errno"], last["Last_SQL_Error"])
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: waiting for replication: mariadbd exited\n%s", n.Name, tail(n.ErrorLog, 15))
		case <-ctx.Done():
			if lastErr != nil || last == nil {
				return fmt.Errorf("%s: waiting for replication: %w (last error: %v)", n.Name, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%s: waiting for replication: %w (IO %s, SQL %s)", n.Name, ctx.Err(),
				last["Slave_IO_Running"], last["Slave_SQL_Running"])
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitCaughtUp waits until the node has applied everything primary has
// binlogged at the time of the call (MASTER_GTID_WAIT on the node).
func (n *Node) WaitCaughtUp(ctx context.Context, primary *Node) error {
	pos, err := primary.QueryString(ctx, "SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		return err
	}
	secs := 30.0
	if dl, ok := ctx.Deadline(); ok {
		secs = time.Until(dl).Seconds()
	}
	if secs < 1 {
		secs = 1
	}
	qctx, cancel := context.WithTimeout(ctx, time.Duration(secs*float64(time.Second))+5*time.Second)
	defer cancel()
	var r sql.NullInt64
	if err := n.DB().QueryRowContext(qctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, secs).Scan(&r); err != nil {
		return fmt.Errorf("%s: MASTER_GTID_WAIT(%s): %w", n.Name, pos, err)
	}
	if !r.Valid || r.Int64 != 0 {
		return fmt.Errorf("%s: not caught up with %s (%s) within %.0fs", n.Name, primary.Name, pos, secs)
	}
	return nil
}

// DropFrom drops every packet between the node and other (iptables DROP
// in the node's namespace, both directions): a firewall or a dead link, so
// that a replica's IO thread stalls rather than being refused. Heal
// removes the rules. Needs Options.Netns.
func (n *Node) DropFrom(other *Node) error {
	if n.netns == "" {
		return errors.New("DropFrom needs Options.Netns")
	}
	c := n.c.slot.comment()
	for _, r := range [][]string{
		{"-I", "INPUT", "1", "-s", other.Host, "-j", "DROP"},
		{"-I", "OUTPUT", "1", "-d", other.Host, "-j", "DROP"},
	} {
		args := append([]string{"netns", "exec", n.netns, "iptables"}, r...)
		args = append(args, "-m", "comment", "--comment", c)
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// Isolate cuts the node off from every other node (Partition); Heal undoes
// it.
func (n *Node) Isolate() error { return n.Partition() }

// GTIDPos returns the node's gtid_binlog_pos, gtid_slave_pos and
// gtid_current_pos.
func (n *Node) GTIDPos(ctx context.Context) (binlog, slave, current string, err error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = n.DB().QueryRowContext(qctx,
		"SELECT @@GLOBAL.gtid_binlog_pos, @@GLOBAL.gtid_slave_pos, @@GLOBAL.gtid_current_pos").Scan(&binlog, &slave, &current)
	if err != nil {
		err = fmt.Errorf("%s: gtid positions: %w", n.Name, err)
	}
	return strings.TrimSpace(binlog), strings.TrimSpace(slave), strings.TrimSpace(current), err
}
