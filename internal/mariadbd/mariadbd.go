// Package mariadbd runs the server binary in the roles run mode needs:
// --wsrep-recover (read the committed position after a crash), the
// initialisation of an empty data directory, and the server itself. The
// command line of each role is built by a pure function of Config, so it
// is unit-tested; processes are started through package supervisor, so
// they are reaped, signalled and stopped the one safe way.
//
// It must not decide which role to run or when (package member does, from
// recovery's plan), and it must not kill mariadbd except through the
// supervisor's bounded stop.
package mariadbd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/datadir"
	"github.com/galera-sentinel/galera-sentinel/internal/initdb"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
	"github.com/galera-sentinel/galera-sentinel/internal/tail"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// Config is how this member's mariadbd is run.
type Config struct {
	// Command is mariadbd and its arguments, as given after "--".
	Command []string
	// DataDir is the data directory mariadbd uses.
	DataDir string
	// ErrorLog is the file mariadbd's configuration sends its log to
	// (ErrorLogPath of its log_error); empty when it prints to stderr.
	ErrorLog string
	// PassDataDir passes DataDir as --datadir: the operator chose it with
	// the sentinel's flag and mariadbd's configuration does not name one.
	// Otherwise mariadbd's own configuration is left to say it.
	PassDataDir bool
	// ConfigNamesCluster: mariadbd's configuration has its own
	// wsrep_cluster_address, which the sentinel must not replace.
	ConfigNamesCluster bool
	// BindAddress and NodeAddress are bind-address and
	// wsrep_node_address of the configuration (see ReachableAddress).
	BindAddress, NodeAddress string
	// RunAs is the user mariadbd drops to (user= in its configuration),
	// who must own a data directory the sentinel creates; empty when
	// mariadbd runs as the sentinel's own user.
	RunAs string
	// InitCommand, when set, is a shell command that initialises an empty
	// data directory (with $DATADIR set); otherwise mariadb-install-db.
	InitCommand string
	// NotifyCommand, when set, is passed as --wsrep-notify-cmd.
	NotifyCommand string
	// OSUser is the operating-system user the sentinel runs as: when not
	// root, the new data directory gives it a unix_socket account.
	OSUser string
	// ShutdownTimeout bounds a stop (SIGTERM, then SIGKILL).
	ShutdownTimeout time.Duration
	// InitDB, when set, is applied after the default initialisation
	// (not after an InitCommand) on a temporary server: the official
	// image's accounts and initdb scripts (see initdb.go).
	InitDB *InitDB
}

// Start is how the server role starts this time.
type Start struct {
	// ClusterAddress is wsrep_cluster_address (gcomm://...).
	ClusterAddress string
	// Position, when set, is passed as --wsrep-start-position: the
	// position --wsrep-recover found, which grastate.dat does not hold.
	Position string
	// NewCluster bootstraps a Primary component (--wsrep-new-cluster).
	NewCluster bool
	// NodeAddress, when set, is passed as --wsrep-node-address: the
	// configuration leaves mariadbd only a loopback address to offer its
	// peers for state transfers (see ReachableAddress).
	NodeAddress string
}

// base is mariadbd's own arguments, with the data directory when the
// sentinel chose it.
func (c Config) base() []string {
	args := slices.Clone(c.Command)
	if c.PassDataDir {
		args = append(args, "--datadir="+c.DataDir)
	}
	return args
}

// recoverClusterAddress satisfies mariadbd's start-up check that an rsync
// or mariabackup SST has a cluster address to work with, when the
// configuration has none (the sentinel passes it to the server role).
// --wsrep-recover exits after reading InnoDB and never connects; the
// address is one nothing listens on, so that even a mariadbd that went on
// could never form a Primary component with it.
const recoverClusterAddress = "gcomm://127.0.0.1:1"

// RecoverArgs is the argv of mariadbd --wsrep-recover. Its log goes to
// stderr (--disable-log-error), which the sentinel reads through a pipe:
// a log file of the sentinel's would be unwritable for the user mariadbd
// drops to, and a log_error of the configuration would hide the answer.
func (c Config) RecoverArgs() []string {
	args := append(c.base(), "--wsrep-recover", "--disable-log-error")
	if !c.ConfigNamesCluster {
		args = append(args, "--wsrep-cluster-address="+recoverClusterAddress)
	}
	return args
}

// ServeArgs is the argv of the server. The cluster address from the peers
// is passed only when the configuration names none.
func (c Config) ServeArgs(s Start) []string {
	args := c.base()
	if !c.ConfigNamesCluster {
		args = append(args, "--wsrep-cluster-address="+s.ClusterAddress)
	}
	if s.Position != "" {
		// grastate.dat still says seqno -1: without the position that
		// --wsrep-recover found, Galera starts this member from an
		// undefined state (a bootstrap would begin a new history, a
		// joiner would need a full SST). mysqld_safe does the same.
		args = append(args, "--wsrep-start-position="+s.Position)
	}
	if s.NodeAddress != "" {
		args = append(args, "--wsrep-node-address="+s.NodeAddress)
	}
	if s.NewCluster {
		args = append(args, "--wsrep-new-cluster")
	}
	if c.NotifyCommand != "" {
		args = append(args, "--wsrep-notify-cmd="+c.NotifyCommand)
	}
	return args
}

// InitArgs is the argv (and extra environment) that initialises an empty
// data directory.
func (c Config) InitArgs() (argv, env []string) {
	if c.InitCommand != "" {
		return []string{"/bin/sh", "-c", c.InitCommand}, []string{"DATADIR=" + c.DataDir}
	}
	argv = []string{"mariadb-install-db"}
	if d := c.Command[1:]; len(d) > 0 && strings.HasPrefix(d[0], "--defaults-file=") {
		argv = append(argv, d[0]) // must come first
	}
	// --wsrep-on=OFF: with the node's Galera settings (rsync SST, say)
	// and no cluster address, mariadbd --bootstrap would abort.
	argv = append(argv, "--datadir="+c.DataDir, "--auth-root-authentication-method=socket", "--skip-test-db", "--wsrep-on=OFF")
	if c.RunAs != "" {
		argv = append(argv, "--user="+c.RunAs)
	}
	// Like Debian's own packages: the OS user that runs mariadbd (and this
	// sentinel) gets a unix_socket account, so that the sentinel can
	// watch the node over the socket with no password.
	if c.OSUser != "" && c.OSUser != "root" {
		argv = append(argv, "--auth-root-socket-user="+c.OSUser)
	}
	return argv, nil
}

// ReachableAddress is the address mariadbd must offer its peers for state
// transfers when its configuration leaves it only a loopback one: with
// bind-address=127.0.0.1 (Debian's 50-server.cnf) and no
// wsrep_node_address, mariadbd derives its SST and IST addresses from the
// bind address, and a remote donor gets "Connection refused". The address
// is this host's own among the members' hosts. It returns "" when nothing
// is to be passed, with a warning when the configuration is loopback-only
// and no own address was found among the peers. The client port stays as
// configured: with a loopback bind address clients elsewhere cannot
// connect, which the warning says.
func ReachableAddress(bind, nodeAddr string, peerHosts []string, local []net.IP) (addr, why string) {
	if nodeAddr != "" || !isLoopback(bind) {
		return "", ""
	}
	remote := false
	for _, h := range peerHosts {
		if !isLoopback(h) {
			remote = true
		}
	}
	if !remote {
		return "", "" // every member on this host: loopback is reachable
	}
	for _, h := range peerHosts {
		ip := net.ParseIP(h)
		for _, l := range local {
			if ip != nil && ip.Equal(l) && !ip.IsLoopback() {
				return ip.String(), "bind-address=" + bind + " leaves mariadbd only a loopback address for state transfers, and the peers are remote: passing this member's own address (clients elsewhere still cannot connect; set bind-address=0.0.0.0)"
			}
		}
	}
	return "", "bind-address=" + bind + " and no wsrep_node_address: mariadbd will offer its peers a loopback address for state transfers, and none of the peers' addresses is this host's; set wsrep_node_address"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NotifyCommand is the wsrep_notify_cmd that tells the sentinel listening
// on socket about a state change: exe is galera-sentinel itself. mariadbd
// runs it through /bin/sh.
func NotifyCommand(exe, socket string) string {
	return ShellQuote(exe) + " notify --socket=" + ShellQuote(socket)
}

// ShellQuote quotes s for /bin/sh when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Runner starts the roles through a supervisor.
type Runner struct {
	cfg    Config
	reaper *supervisor.Reaper
	log    *slog.Logger
	// output receives what the processes print, a record per line.
	output *slog.Logger
	// restart is told each line in which Galera says the node must be
	// restarted (OnRestartRequired).
	restart func(line string)
	// onLine is told every line (OnLine).
	onLine func(line string)
	// shutdown follows Galera's provider through a shutdown
	// (ProviderStuck).
	shutdown shutdownWatch
	// syncedHelpers are the state-transfer helpers SweepRunningSST saw
	// running on a Synced node, and when first.
	syncedHelpers map[helperKey]time.Time
}

// NewRunner returns a runner that logs its own steps to log and what the
// processes print, line by line, to output.
func NewRunner(cfg Config, reaper *supervisor.Reaper, log, output *slog.Logger) *Runner {
	return &Runner{cfg: cfg, reaper: reaper, log: log, output: output}
}

// OnLine has f called, from the goroutine that reads them, with every
// line mariadbd prints (its log, or its output without one), after the
// Runner's own use of it. Set it before anything starts.
func (r *Runner) OnLine(f func(line string)) { r.onLine = f }

// OnRestartRequired has f called, from the goroutine that reads the
// output, with every line a process prints in which Galera says this node
// must be restarted (RestartRequired). Set it before anything starts.
// With Config.ErrorLog set (log_error in mariadbd's configuration),
// Galera's lines go to that file, and the server's lines are read there.
func (r *Runner) OnRestartRequired(f func(line string)) { r.restart = f }

// notice is told every line a process printed, or mariadbd's error log
// got, before it is logged.
func (r *Runner) notice(line string) {
	if r.restart != nil && RestartRequired(line) {
		r.restart(line)
	}
	if advice, ok := upgrade.CrashedOlder(line, upgrade.Version{}); ok {
		r.log.Error(advice)
	}
	if r.onLine != nil {
		r.onLine(line)
	}
	r.shutdown.line(time.Now(), ProviderClosed(line))
}

// ProviderStuck reports whether mariadbd's shutdown is stuck in Galera's
// provider: it said its provider is closed (ProviderClosed) at least
// quiet ago, and printed nothing since. A shutdown that goes on prints at
// once what the provider's destructor reports and then the storage
// engines' shutdown; one that stays silent is waiting for a thread that
// will not end, as an IST sender reading from a joiner whose host
// vanished without closing the connection (a node powered off, a pod
// deleted with its network namespace) does: Galera has already saved its
// state, and mariadbd would wait for ever (until the shutdown timeout).
func (r *Runner) ProviderStuck(now time.Time, quiet time.Duration) (string, bool) {
	return r.shutdown.stuck(now, quiet)
}

// start starts cmd through the supervisor, its output (unless the caller
// directed it) turned into log records.
func (r *Runner) start(name string, cmd *exec.Cmd) (*supervisor.Process, error) {
	if cmd.Stdout == nil && cmd.Stderr == nil {
		w, closeParent, err := logPipe(r.output, r.notice)
		if err != nil {
			return nil, fmt.Errorf("%s: output pipe: %w", name, err)
		}
		defer closeParent()
		cmd.Stdout, cmd.Stderr = w, w
	}
	return r.reaper.Start(name, cmd)
}

func (r *Runner) command(argv, env []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// If the sentinel dies without stopping mariadbd (OOM kill), mariadbd
	// shuts down cleanly rather than running on unsupervised: the next
	// sentinel could not see it and would find its data directory locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// Recover runs mariadbd --wsrep-recover and returns what it logged.
func (r *Runner) Recover(ctx context.Context) ([]byte, error) {
	if err := r.prepareDataDir(); err != nil {
		return nil, err
	}
	// mariadbd --wsrep-recover wants its output in a file. The file is
	// opened here and inherited as stdout and stderr, as Debian's
	// galera_recovery does: mariadbd writes to the open descriptor after
	// it drops to the user of its configuration, who could not open a
	// file of the sentinel's.
	f, err := os.CreateTemp("", "galera-sentinel-recover-*.log")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := r.command(r.cfg.RecoverArgs(), nil)
	cmd.Stdout, cmd.Stderr = f, f
	r.log.Info("seqno unknown: running mariadbd --wsrep-recover", "args", cmd.Args)
	p, err := r.start("mariadbd --wsrep-recover", cmd)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(ctx); err != nil {
		// Stopping: let it finish what it does to InnoDB, briefly.
		_ = p.Stop(r.cfg.ShutdownTimeout)
		return nil, err
	}
	log, err := tail.File(f, tailMax)
	if err != nil {
		return nil, fmt.Errorf("read mariadbd --wsrep-recover's output: %w", err)
	}
	if p.ExitCode() != 0 {
		// A data directory an older version left by a crash: no retry
		// mends it, a person must; say how.
		if _, ok := upgrade.CrashedOlder(string(log), upgrade.Version{}); ok {
			v, _ := r.Version(ctx)
			advice, _ := upgrade.CrashedOlder(string(log), v)
			return nil, fmt.Errorf("mariadbd --wsrep-recover: %s: %s", p.Describe(), advice)
		}
		return nil, fmt.Errorf("mariadbd --wsrep-recover: %s\n%s", p.Describe(), tail.Lines(string(log), 10))
	}
	return log, nil
}

// prepareDataDir creates a data directory that does not exist yet, owned
// by the user mariadbd runs as: mariadbd would abort ("Can't change dir")
// rather than create it. In one that exists it ends what a previous
// mariadbd's state transfer left running.
func (r *Runner) prepareDataDir() error {
	_, err := os.Stat(r.cfg.DataDir)
	if err == nil {
		r.endStaleSST()
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(r.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create the data directory: %w", err)
	}
	if r.cfg.RunAs == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(r.cfg.RunAs)
	if err != nil {
		return fmt.Errorf("data directory owner: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(r.cfg.DataDir, uid, gid); err != nil {
		return fmt.Errorf("data directory owner: %w", err)
	}
	r.log.Info("created the data directory", "datadir", r.cfg.DataDir, "owner", r.cfg.RunAs)
	return nil
}

// The state-transfer helpers that keep a pid file in the data directory,
// and what their command line holds (wsrep_sst_common, wsrep_sst_rsync):
// the script itself, and the rsync daemon and stunnel a joiner's rsync SST
// starts. Killed with SIGKILL, mariadbd takes none of them along, and the
// next joiner's script waits 30 s for each and gives up ("rsync daemon
// still running..."), every try, so the member never rejoins.
var sstHelpers = []struct{ pidFile, cmdline string }{
	{"wsrep_sst.pid", "wsrep_sst_"},
	{"rsync_sst.pid", "rsync"},
	{"stunnel.pid", "stunnel"},
}

// endStaleSST stops the state-transfer helpers that outlived the mariadbd
// that ran them. Only the sentinel starts mariadbd on this data
// directory, so a helper named in its pid file while no mariadbd runs is
// stale. A process id that now belongs to anything else (its command line
// does not name the helper and this data directory) is left alone, but
// its pid file is emptied: process ids wrap (pid_max is 32768 on small
// machines), and the scripts wait for any live process that has the
// number ("Previous SST is not completed"), 30 s and then give up, at
// every try. The files are emptied, not removed: the scripts take an
// empty one for "nothing runs", and rsync_sst.pid's presence is what
// tells an interrupted transfer (recovery's markers).
func (r *Runner) endStaleSST() {
	for _, h := range sstHelpers {
		path := filepath.Join(r.cfg.DataDir, h.pidFile)
		b, err := os.ReadFile(path)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 1 && r.isHelper(pid, h.cmdline) {
			r.log.Warn("ending a state transfer helper that outlived its mariadbd", "pid", pid, "pid_file", h.pidFile)
			endHelper(pid)
		} else {
			r.log.Info("emptying a stale state transfer pid file", "pid_file", h.pidFile, "names", strings.TrimSpace(string(b)))
		}
		r.emptyPidFile(path, nil)
	}
}

// emptyPidFile truncates the pid file at path where it is still there (an
// ended script removes its own); it never creates one. With was set, only
// while the file still holds exactly that.
func (r *Runner) emptyPidFile(path string, was []byte) {
	if was != nil {
		if cur, err := os.ReadFile(path); err != nil || !bytes.Equal(cur, was) {
			return
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err == nil {
		err = f.Close()
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("could not empty a stale state transfer pid file", "pid_file", filepath.Base(path), "err", err)
	}
}

// endHelper ends a state-transfer helper: SIGTERM (the script cleans up
// after itself, its rsync and its files; rsync and stunnel end on it),
// SIGKILL if it still runs 10 s later.
func endHelper(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// isHelper tells whether process pid runs a state-transfer helper of this
// data directory: its command line names the helper and the directory.
func (r *Runner) isHelper(pid int, helper string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte(helper)) && bytes.Contains(cmdline, []byte(r.cfg.DataDir))
}

// tailMax bounds what is read of a child's output.
const tailMax = 1 << 20

// Initialise fills an empty data directory before a brand-new cluster is
// bootstrapped on it: the init command, then (after the default one) the
// accounts and scripts of InitDB. If anything fails, or ctx ends, what it
// put in the data directory is removed again, so that the next attempt
// starts from an empty one: never a half-initialised cluster.
func (r *Runner) Initialise(ctx context.Context) error {
	if err := r.prepareDataDir(); err != nil {
		return err
	}
	before, err := dirNames(r.cfg.DataDir)
	if err != nil {
		return err
	}
	if err := r.initialise(ctx); err != nil {
		r.removeNew(before)
		return err
	}
	return nil
}

func (r *Runner) initialise(ctx context.Context) error {
	var acc initdb.Accounts
	in := r.cfg.InitDB
	if r.cfg.InitCommand != "" {
		in = nil
	}
	if in != nil {
		// Before anything is written: a bad variable is refused at once.
		var err error
		if acc, err = initdb.FromEnv(in.Env, os.ReadFile); err != nil {
			return fmt.Errorf("accounts from the environment: %w", err)
		}
	}
	cmd := r.command(r.cfg.InitArgs())
	r.log.Info("initialising the empty data directory of a new cluster", "command", cmd.Args)
	p, err := r.start("init command", cmd)
	if err != nil {
		return err
	}
	if err := p.Wait(ctx); err != nil {
		<-p.Done()
		return err
	}
	if p.ExitCode() != 0 {
		return fmt.Errorf("initialising %s: %s %s", r.cfg.DataDir, cmd.Args[0], p.Describe())
	}
	if in != nil {
		return r.initDB(ctx, *in, acc)
	}
	return nil
}

// dirNames is the set of names in dir.
func dirNames(dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	return names, nil
}

// removeNew removes from the data directory what was not in it before.
func (r *Runner) removeNew(before map[string]bool) {
	// What a volume brings and the journal are kept (datadir.Ignored).
	if err := datadir.Clean(r.cfg.DataDir, before); err != nil {
		r.log.Error("could not empty the data directory after a failed initialisation", "err", err)
		return
	}
	r.log.Info("emptied the data directory after a failed initialisation: the next attempt starts over", "datadir", r.cfg.DataDir)
}

// Serve starts the server. peerHosts are the members' hosts, for the
// address mariadbd offers them (ReachableAddress).
func (r *Runner) Serve(s Start, peerHosts []string) (*supervisor.Process, error) {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		var local []net.IP
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				local = append(local, n.IP)
			}
		}
		if addr, why := ReachableAddress(r.cfg.BindAddress, r.cfg.NodeAddress, peerHosts, local); addr != "" {
			s.NodeAddress = addr
			r.log.Warn(why, "wsrep_node_address", addr)
		} else if why != "" {
			r.log.Warn(why)
		}
	}
	if err := r.prepareDataDir(); err != nil {
		return nil, err
	}
	cmd := r.command(r.cfg.ServeArgs(s), nil)
	r.log.Info("starting mariadbd", "new_cluster", s.NewCluster, "args", cmd.Args)
	r.shutdown.reset()
	if r.cfg.ErrorLog == "" {
		return r.start("mariadbd", cmd)
	}
	// Only what this life of mariadbd appends to its log counts.
	from := logSize(r.cfg.ErrorLog)
	proc, err := r.start("mariadbd", cmd)
	if err == nil {
		go followLog(r.cfg.ErrorLog, from, followEvery, proc.Done(), r.notice)
	}
	return proc, err
}

// StaleHelperAge is how long a state-transfer helper may go on running
// after it was seen running on a Synced node before SweepRunningSST ends
// it: a transfer keeps its node Donor or Joiner until its script is done,
// which then cleans up for seconds, not this long.
const StaleHelperAge = 30 * time.Second

// helperKey tells one process from a later one with the same id.
type helperKey struct {
	pid   int
	start uint64 // clock ticks after boot
}

// SweepRunningSST clears, while mariadbd runs, what an earlier state
// transfer left in the data directory's pid files, which the next
// transfer's script would wait on for 30 s and then fail ("previous SST
// script still running..."), at every try, the joiner aborting each time:
//
//   - a pid file that names a process that is no helper of this data
//     directory (ids wrap; pid_max is 32768 on small machines) is emptied;
//   - a helper of this data directory that was running at a moment the
//     node was Synced (synced, from a fresh sample), and still runs
//     StaleHelperAge later, whatever the node does meanwhile, is ended
//     and its pid file emptied: it is an orphan of a transfer mariadbd no
//     longer waits for (a new transfer's script is another process).
//
// Called from one goroutine at a time.
func (r *Runner) SweepRunningSST(synced bool) {
	now := time.Now()
	seen := map[helperKey]time.Time{}
	for _, h := range sstHelpers {
		path := filepath.Join(r.cfg.DataDir, h.pidFile)
		b, err := os.ReadFile(path)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		if syscall.Kill(pid, 0) != nil {
			continue // gone: the scripts remove such a file themselves
		}
		if r.isHelper(pid, h.cmdline) {
			start, err := processStart(pid)
			if err != nil {
				continue
			}
			k := helperKey{pid, start}
			first, ok := r.syncedHelpers[k]
			if !ok && synced {
				first, ok = now, true
			}
			if !ok {
				continue
			}
			seen[k] = first
			if now.Sub(first) < StaleHelperAge {
				continue
			}
			delete(seen, k)
			r.log.Warn("ending a state transfer helper left by an earlier transfer: it ran while the node was Synced and still runs", "pid", pid, "pid_file", h.pidFile, "since", now.Sub(first).Round(time.Second))
			endHelper(pid)
		} else {
			r.log.Warn("emptying a state transfer pid file that names another process", "pid_file", h.pidFile, "pid", pid)
		}
		// Only if it still names the same process: a transfer that
		// began meanwhile wrote its own.
		r.emptyPidFile(path, b)
	}
	r.syncedHelpers = seen
}

// processStart is process pid's start time in /proc/<pid>/stat (field
// 22, clock ticks after boot): with the id, it tells one process from a
// later one that got the same id.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after its closing one are space-separated, the start
	// time the 20th of them.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}
