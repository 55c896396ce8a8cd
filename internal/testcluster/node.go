package testcluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sys/unix"
)

// Node is one mariadbd of a Cluster.
type Node struct {
	c     *Cluster
	Index int    // 1-based
	Name  string // node1, node2, ...
	Host  string // the node's own address; every port listens there

	Dir        string // everything of this node lives here
	DataDir    string
	Socket     string // unix socket; the harness's admin connection uses it
	ConfigFile string
	ErrorLog   string

	netns string // empty on loopback

	mu       sync.Mutex
	cmd      *exec.Cmd     // mariadbd, or the sentinel that runs it
	sentinel bool          // cmd is a sentinel (StartRun)
	asRoot   bool          // the next launch runs as root (StartRunAsRoot)
	exited   chan struct{} // closed when cmd has been waited for
	exitErr  error
	db       *sql.DB
}

// TmpDir is the node's own tmpdir.
func (n *Node) TmpDir() string { return filepath.Join(n.Dir, "tmp") }

// Addr is the node's client address, host:port.
func (n *Node) Addr() string { return fmt.Sprintf("%s:%d", n.Host, ClientPort) }

// Netns is the node's network namespace, empty when it runs on loopback.
func (n *Node) Netns() string { return n.netns }

func (n *Node) prepare() error {
	// A temporary directory of its own: mariadbd removes the #sql files
	// of the tmpdir when it starts, the temporary tables of every other
	// node sharing /tmp included ("Error on delete of '/tmp/#sql-...'").
	for _, d := range []string{n.Dir, n.DataDir, n.TmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chown(d, n.c.uid, n.c.gid); err != nil {
			return err
		}
	}
	if n.c.opts.Async {
		return os.WriteFile(n.ConfigFile, []byte(n.asyncConfig()), 0o644)
	}
	// Small buffers so that several nodes start quickly on 2 cores; short
	// evs timeouts so that a partition shows within seconds, not the
	// default 15. The [sst] section first, so that lines a test appends
	// land in [mysqld]: mariabackup's socat listens on every address
	// unless told to bind, and beside another cluster's joiner on the
	// same port (go test -p) it took that cluster's state ("Application
	// received wrong state") or could not listen at all.
	cnf := fmt.Sprintf(`[sst]
sockopt=bind=%[5]s

[mysqld]
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
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=%[7]s
wsrep_cluster_name=%[8]s
wsrep_cluster_address=%[9]s
wsrep_node_name=%[10]s
wsrep_node_address=%[5]s:%[11]d
wsrep_sst_method=rsync
wsrep_sst_receive_address=%[5]s:%[12]d
wsrep_slave_threads=2
wsrep_provider_options="gmcast.listen_addr=tcp://%[5]s:%[11]d;ist.recv_addr=%[5]s:%[13]d;gcache.size=32M;pc.recovery=TRUE;evs.keepalive_period=PT1S;evs.inactive_check_period=PT1S;evs.suspect_timeout=PT3S;evs.inactive_timeout=PT6S;evs.install_timeout=PT6S"
%[14]s
`, n.DataDir, n.Socket, n.Dir, n.ErrorLog, n.Host, ClientPort, ProviderPath, n.c.Name,
		n.c.Address(), n.Name, GcommPort, SSTPort, ISTPort, n.c.opts.ExtraConfig)
	return os.WriteFile(n.ConfigFile, []byte(cnf), 0o644)
}

// Bootstrap starts the node as the first member of a new Primary component
// (--wsrep-new-cluster). An empty data directory is filled from the
// cluster's mariadb-install-db template first.
func (n *Node) Bootstrap(ctx context.Context) error {
	empty, err := dirEmpty(n.DataDir)
	if err != nil {
		return err
	}
	if empty {
		tmpl, err := n.c.prepareTemplate()
		if err != nil {
			return err
		}
		if out, err := exec.Command("cp", "-a", tmpl+"/.", n.DataDir+"/").CombinedOutput(); err != nil {
			return fmt.Errorf("copy template: %w: %s", err, out)
		}
	}
	return n.start(ctx, "--wsrep-new-cluster")
}

// Start starts mariadbd on the node's data directory, joining the cluster
// at Cluster.Address. It returns once the server accepts connections on its
// socket (a joiner does so only after its state transfer).
func (n *Node) Start(ctx context.Context) error { return n.start(ctx) }

// StartArgs is Start with extra mariadbd arguments.
func (n *Node) StartArgs(ctx context.Context, args ...string) error { return n.start(ctx, args...) }

func (n *Node) start(ctx context.Context, extra ...string) error {
	args := append([]string{"--defaults-file=" + n.ConfigFile}, extra...)
	exited, err := n.launch(MariadbdPath, args, "stdout.log", false)
	if err != nil {
		return err
	}
	// Wait for the socket to answer, or for mariadbd to die trying.
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := n.DB().PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: mariadbd exited during start: %v\n%s", n.Name, n.exitErr, tail(n.ErrorLog, 15))
		case <-ctx.Done():
			return fmt.Errorf("%s: mariadbd not answering: %w (last: %v)", n.Name, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// SentinelLog is where a sentinel started by StartRun writes.
func (n *Node) SentinelLog() string { return filepath.Join(n.Dir, "sentinel.log") }

// AgentAddr is where a sentinel started by StartRun should answer
// HAProxy's agent-check: the node's own host, port AgentPort.
func (n *Node) AgentAddr() string { return fmt.Sprintf("%s:%d", n.Host, AgentPort) }

// SentinelAddr is the address a sentinel started by StartRun should
// listen on: the node's own host, port SentinelPort.
func (n *Node) SentinelAddr() string { return fmt.Sprintf("%s:%d", n.Host, SentinelPort) }

// StartRun starts `bin run flags... -- mariadbd --defaults-file=...` for
// the node, as the mysql user, in the node's namespace. It returns once
// the sentinel has started; the sentinel decides when mariadbd starts.
// Stop sends the sentinel SIGTERM; Kill kills the sentinel and mariadbd
// at once, as a power loss would.
func (n *Node) StartRun(bin string, flags ...string) error {
	args := append([]string{"run"}, flags...)
	args = append(args, "--", MariadbdPath, "--defaults-file="+n.ConfigFile)
	_, err := n.launch(bin, args, "sentinel.log", true)
	return err
}

// StartRunAsRoot is StartRun with the sentinel running as root, the
// classic VM layout: mariadbd drops to the user its configuration names
// (user=mysql), which the test's my.cnf must set.
func (n *Node) StartRunAsRoot(bin string, flags ...string) error {
	args := append([]string{"run"}, flags...)
	args = append(args, "--", MariadbdPath, "--defaults-file="+n.ConfigFile)
	n.mu.Lock()
	n.asRoot = true
	n.mu.Unlock()
	_, err := n.launch(bin, args, "sentinel.log", true)
	return err
}

// launch starts one process for the node and records it as the node's.
func (n *Node) launch(bin string, args []string, logName string, sentinel bool) (<-chan struct{}, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return nil, fmt.Errorf("%s: already running", n.Name)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = n.Dir
	cred := &syscall.Credential{Uid: uint32(n.c.uid), Gid: uint32(n.c.gid)}
	if n.asRoot {
		cred, n.asRoot = nil, false
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Go sets the parent-death signal after dropping to mysql, so it
		// survives: if the test binary dies, the process dies with it.
		Pdeathsig: syscall.SIGKILL,
		Setpgid:   true,
	}
	out, err := os.OpenFile(filepath.Join(n.Dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	if n.netns != "" {
		err = startInNetns(cmd, n.netns)
	} else {
		err = cmd.Start()
	}
	out.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", n.Name, bin, err)
	}
	n.cmd, n.sentinel = cmd, sentinel
	n.exited = make(chan struct{})
	exited := n.exited
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	return exited, nil
}

// startInNetns starts cmd from an OS thread that has entered netns, so the
// child is born there. Pdeathsig follows the forking thread, which goes
// back to the pool and lives as long as the process does.
func startInNetns(cmd *exec.Cmd, netns string) error {
	target, err := os.Open("/run/netns/" + netns)
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", netns, err)
	}
	startErr := cmd.Start()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: never hand it back. It
		// dies with this goroutine, and its child with it (Pdeathsig).
		return fmt.Errorf("setns back from %s: %w", netns, err)
	}
	runtime.UnlockOSThread()
	return startErr
}

// Running reports whether mariadbd has been started and not yet exited.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Pid is mariadbd's process id, 0 when not running.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// wait waits for mariadbd to exit and forgets the process.
func (n *Node) wait(ctx context.Context) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
	case <-ctx.Done():
		return fmt.Errorf("%s: mariadbd did not exit: %w", n.Name, ctx.Err())
	}
	n.mu.Lock()
	n.cmd, n.exited = nil, nil
	n.mu.Unlock()
	n.CloseDB()
	return nil
}

// Stop shuts mariadbd down cleanly (SIGTERM) and waits for it to exit.
func (n *Node) Stop(ctx context.Context) error {
	_ = n.signalGroup(syscall.SIGCONT)
	if err := n.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return n.wait(ctx)
}

// Kill kills mariadbd with SIGKILL, as a crash or an OOM kill would, and
// waits for it to be gone.
func (n *Node) Kill() error {
	n.mu.Lock()
	sentinel, cmd := n.sentinel, n.cmd
	n.mu.Unlock()
	if sentinel && cmd != nil {
		// The sentinel and the mariadbd it started share its group.
		mpid := n.MariadbdPid()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		defer waitGone(mpid)
	} else if err := n.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n.wait(ctx)
}

func (n *Node) kill() {
	n.CloseDB() // first, so the driver does not write to a dead socket
	if n.Running() {
		_ = n.Kill()
	}
}

// Freeze stops mariadbd with SIGSTOP: the kernel still accepts TCP
// connections into the listen backlog, but nothing answers them.
func (n *Node) Freeze() error { return n.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen mariadbd (SIGCONT).
func (n *Node) Thaw() error { return n.Signal(syscall.SIGCONT) }

// FreezeAll stops every process of the node with SIGSTOP: after StartRun
// the sentinel and the mariadbd it started (they share its process
// group), as a node whose power failed, but for its network: connections
// are still accepted into the listen backlogs, and nothing answers them.
// ThawAll resumes them.
func (n *Node) FreezeAll() error { return n.signalGroup(syscall.SIGSTOP) }

// ThawAll resumes what FreezeAll stopped.
func (n *Node) ThawAll() error { return n.signalGroup(syscall.SIGCONT) }

func (n *Node) signalGroup(sig syscall.Signal) error {
	n.mu.Lock()
	sentinel, cmd := n.sentinel, n.cmd
	n.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s: not running", n.Name)
	}
	if !sentinel {
		return cmd.Process.Signal(sig)
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

// MariadbdPid is the pid in mariadbd's pid file, 0 when there is none or
// that process is gone.
func (n *Node) MariadbdPid() int {
	b, err := os.ReadFile(filepath.Join(n.Dir, "mysqld.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || syscall.Kill(pid, 0) != nil {
		return 0
	}
	// A mariadbd killed with SIGKILL leaves its pid file, and on a busy
	// machine (pid_max 32768) its pid is soon another process's: only a
	// mariadbd that started before its pid file was written counts.
	st, err := os.Stat(filepath.Join(n.Dir, "mysqld.pid"))
	if err != nil {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "mariadbd") {
		return 0
	}
	if started, ok := processStart(pid); ok && started.After(st.ModTime().Add(time.Second)) {
		return 0
	}
	return pid
}

// processStart is when the process pid started (from /proc), to the
// clock tick.
func processStart(pid int) (time.Time, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}, false
	}
	// The command name (field 2) may hold spaces: count from its end.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22: starttime
	if err != nil {
		return time.Time{}, false
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			const clkTck = 100 // USER_HZ on Linux
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / clkTck), true
		}
	}
	return time.Time{}, false
}

// KillMariadbd kills only mariadbd, as a crash would, leaving a sentinel
// started by StartRun to notice.
func (n *Node) KillMariadbd() error {
	pid := n.MariadbdPid()
	if pid == 0 {
		return fmt.Errorf("%s: mariadbd is not running", n.Name)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	waitGone(pid)
	return nil
}

// ExitCode waits for the node's process (the sentinel, after StartRun) to
// exit and returns its exit code.
func (n *Node) ExitCode(ctx context.Context) (int, error) {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return 0, fmt.Errorf("%s: not started", n.Name)
	}
	select {
	case <-exited:
	case <-ctx.Done():
		return 0, fmt.Errorf("%s: still running: %w", n.Name, ctx.Err())
	}
	n.mu.Lock()
	err := n.exitErr
	n.cmd, n.exited = nil, nil
	n.mu.Unlock()
	n.CloseDB()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// waitGone waits up to 30 s for a process to disappear (or be a zombie).
func waitGone(pid int) {
	if pid == 0 {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart stops mariadbd cleanly and starts it again on the same data
// directory.
func (n *Node) Restart(ctx context.Context) error {
	if err := n.Stop(ctx); err != nil {
		return err
	}
	return n.Start(ctx)
}

// Wipe empties the data directory of a stopped node: a new, empty disk.
func (n *Node) Wipe() error {
	if n.Running() {
		return fmt.Errorf("%s: wipe while running", n.Name)
	}
	if err := os.RemoveAll(n.DataDir); err != nil {
		return err
	}
	if err := os.Mkdir(n.DataDir, 0o755); err != nil {
		return err
	}
	return os.Chown(n.DataDir, n.c.uid, n.c.gid)
}

// Partition cuts the node off from every other node of the cluster with
// iptables DROP rules inside its namespace. The root namespace (the test,
// a sentinel running beside it) still reaches it. Needs Options.Netns.
func (n *Node) Partition() error {
	if n.netns == "" {
		return errors.New("partition needs Options.Netns")
	}
	bridge := fmt.Sprintf("10.213.%d.254", n.c.slot.n)
	subnet := fmt.Sprintf("10.213.%d.0/24", n.c.slot.n)
	c := n.c.slot.comment()
	rules := [][]string{
		{"-I", "INPUT", "1", "-s", subnet, "-j", "DROP"},
		{"-I", "INPUT", "1", "-s", bridge, "-j", "ACCEPT"},
		{"-I", "OUTPUT", "1", "-d", subnet, "-j", "DROP"},
		{"-I", "OUTPUT", "1", "-d", bridge, "-j", "ACCEPT"},
	}
	for _, r := range rules {
		args := append([]string{"netns", "exec", n.netns, "iptables"}, r...)
		args = append(args, "-m", "comment", "--comment", c)
		if err := run("ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// Heal removes the rules Partition added.
func (n *Node) Heal() error {
	if n.netns == "" {
		return errors.New("heal needs Options.Netns")
	}
	return deleteIptablesRules(n.netns, n.c.slot.comment())
}

// DB is an admin connection pool (root over the unix socket, so it works
// whatever the network does). It is reopened after a restart.
func (n *Node) DB() *sql.DB {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.db == nil {
		cfg := mysql.NewConfig()
		cfg.User = "root"
		cfg.Net = "unix"
		cfg.Addr = n.Socket
		cfg.Timeout = 2 * time.Second
		cfg.ReadTimeout = 10 * time.Second
		cfg.WriteTimeout = 10 * time.Second
		connector, err := mysql.NewConnector(cfg)
		if err != nil {
			panic(err) // a static configuration; cannot fail
		}
		n.db = sql.OpenDB(connector)
		n.db.SetMaxOpenConns(4)
		n.db.SetConnMaxIdleTime(30 * time.Second)
	}
	return n.db
}

// CloseDB closes the admin pool, so that the harness holds no connection
// to the node (a drain waits for client connections to close).
func (n *Node) CloseDB() {
	n.mu.Lock()
	db := n.db
	n.db = nil
	n.mu.Unlock()
	if db != nil {
		db.Close()
	}
}

// Exec runs statements on the node, each with its own bound.
func (n *Node) Exec(ctx context.Context, stmts ...string) error {
	for _, s := range stmts {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, err := n.DB().ExecContext(qctx, s)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %q: %w", n.Name, s, err)
		}
	}
	return nil
}

// QueryInt runs a query that returns one integer.
func (n *Node) QueryInt(ctx context.Context, q string, args ...any) (int64, error) {
	var v int64
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.DB().QueryRowContext(qctx, q, args...).Scan(&v); err != nil {
		return 0, fmt.Errorf("%s: %q: %w", n.Name, q, err)
	}
	return v, nil
}

// Status is the part of SHOW GLOBAL STATUS the harness waits on.
type Status struct {
	LocalState    string // wsrep_local_state_comment: Joining, Donor/Desynced, Joined, Synced, ...
	ClusterStatus string // Primary, non-Primary, Disconnected
	ClusterSize   int
	Ready         bool
	Connected     bool
	LastCommitted int64
	Raw           map[string]string
}

// Status samples the node's wsrep status.
func (n *Node) Status(ctx context.Context) (Status, error) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rows, err := n.DB().QueryContext(qctx, "SHOW GLOBAL STATUS LIKE 'wsrep%'")
	if err != nil {
		return Status{}, fmt.Errorf("%s: status: %w", n.Name, err)
	}
	defer rows.Close()
	raw := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return Status{}, err
		}
		raw[k] = v
	}
	if err := rows.Err(); err != nil {
		return Status{}, err
	}
	size, _ := strconv.Atoi(raw["wsrep_cluster_size"])
	last, _ := strconv.ParseInt(raw["wsrep_last_committed"], 10, 64)
	return Status{
		LocalState:    raw["wsrep_local_state_comment"],
		ClusterStatus: raw["wsrep_cluster_status"],
		ClusterSize:   size,
		Ready:         raw["wsrep_ready"] == "ON",
		Connected:     raw["wsrep_connected"] == "ON",
		LastCommitted: last,
		Raw:           raw,
	}, nil
}

// WaitFor polls the node's status until cond holds, the context ends or
// mariadbd exits.
func (n *Node) WaitFor(ctx context.Context, what string, cond func(Status) bool) error {
	var last Status
	var lastErr error
	for {
		n.mu.Lock()
		exited := n.exited
		n.mu.Unlock()
		if exited == nil {
			return fmt.Errorf("%s: waiting for %s: not running", n.Name, what)
		}
		last, lastErr = n.Status(ctx)
		if lastErr == nil && cond(last) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: waiting for %s: mariadbd exited\n%s", n.Name, what, tail(n.ErrorLog, 15))
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%s: waiting for %s: %w (last error: %v)", n.Name, what, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%s: waiting for %s: %w (last: %s, %s, size %d)", n.Name, what, ctx.Err(),
				last.ClusterStatus, last.LocalState, last.ClusterSize)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitSynced waits until the node is Synced in a Primary component.
func (n *Node) WaitSynced(ctx context.Context) error {
	return n.WaitFor(ctx, "Primary and Synced", func(s Status) bool {
		return s.ClusterStatus == "Primary" && s.LocalState == "Synced" && s.Ready
	})
}

// WaitNonPrimary waits until the node has left the Primary component.
func (n *Node) WaitNonPrimary(ctx context.Context) error {
	return n.WaitFor(ctx, "non-Primary", func(s Status) bool {
		return s.ClusterStatus != "" && s.ClusterStatus != "Primary"
	})
}

func dirEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// QueryString runs a query that returns one string.
func (n *Node) QueryString(ctx context.Context, q string, args ...any) (string, error) {
	var v string
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.DB().QueryRowContext(qctx, q, args...).Scan(&v); err != nil {
		return "", fmt.Errorf("%s: %q: %w", n.Name, q, err)
	}
	return v, nil
}

// Signal sends sig to the node's process: mariadbd, or the sentinel after
// StartRun.
func (n *Node) Signal(sig os.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return fmt.Errorf("%s: not running", n.Name)
	}
	return n.cmd.Process.Signal(sig)
}
