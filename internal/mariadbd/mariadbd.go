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
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Config is how this member's mariadbd is run.
type Config struct {
	// Command is mariadbd and its arguments, as given after "--".
	Command []string
	// DataDir is the data directory, passed as --datadir.
	DataDir string
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
}

// base is mariadbd's own arguments with the data directory.
func (c Config) base() []string {
	return append(slices.Clone(c.Command[1:]), "--datadir="+c.DataDir)
}

// RecoverArgs is the argv of mariadbd --wsrep-recover, logging to logPath.
func (c Config) RecoverArgs(logPath string) []string {
	return append(append([]string{c.Command[0]}, c.base()...), "--wsrep-recover", "--log-error="+logPath)
}

// ServeArgs is the argv of the server.
func (c Config) ServeArgs(s Start) []string {
	args := append([]string{c.Command[0]}, c.base()...)
	args = append(args, "--wsrep-cluster-address="+s.ClusterAddress)
	if s.Position != "" {
		// grastate.dat still says seqno -1: without the position that
		// --wsrep-recover found, Galera starts this member from an
		// undefined state (a bootstrap would begin a new history, a
		// joiner would need a full SST). mysqld_safe does the same.
		args = append(args, "--wsrep-start-position="+s.Position)
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
	// Like Debian's own packages: the OS user that runs mariadbd (and this
	// sentinel) gets a unix_socket account, so that the sentinel can
	// watch the node over the socket with no password.
	if c.OSUser != "" && c.OSUser != "root" {
		argv = append(argv, "--auth-root-socket-user="+c.OSUser)
	}
	return argv, nil
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
	// out receives mariadbd's own output.
	out io.Writer
}

// NewRunner returns a runner whose processes write to out.
func NewRunner(cfg Config, reaper *supervisor.Reaper, out io.Writer, log *slog.Logger) *Runner {
	return &Runner{cfg: cfg, reaper: reaper, out: out, log: log}
}

func (r *Runner) command(argv, env []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	// If the sentinel dies without stopping mariadbd (OOM kill), mariadbd
	// shuts down cleanly rather than running on unsupervised: the next
	// sentinel could not see it and would find its data directory locked.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// Recover runs mariadbd --wsrep-recover and returns its log.
func (r *Runner) Recover(ctx context.Context) ([]byte, error) {
	f, err := os.CreateTemp("", "galera-sentinel-recover-*.log")
	if err != nil {
		return nil, err
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	cmd := r.command(r.cfg.RecoverArgs(path), nil)
	r.log.Info("seqno unknown: running mariadbd --wsrep-recover", "args", cmd.Args)
	p, err := r.reaper.Start("mariadbd --wsrep-recover", cmd)
	if err != nil {
		return nil, err
	}
	if err := p.Wait(ctx); err != nil {
		// Stopping: let it finish what it does to InnoDB, briefly.
		_ = p.Stop(r.cfg.ShutdownTimeout)
		return nil, err
	}
	log, rerr := os.ReadFile(path)
	if p.ExitCode() != 0 {
		return nil, fmt.Errorf("mariadbd --wsrep-recover: %s\n%s", p.Describe(), tailLines(string(log), 10))
	}
	return log, rerr
}

// Initialise fills an empty data directory before a brand-new cluster is
// bootstrapped on it.
func (r *Runner) Initialise(ctx context.Context) error {
	if err := os.MkdirAll(r.cfg.DataDir, 0o750); err != nil {
		return err
	}
	cmd := r.command(r.cfg.InitArgs())
	r.log.Info("initialising the empty data directory of a new cluster", "command", cmd.Args)
	p, err := r.reaper.Start("init command", cmd)
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
	return nil
}

// Serve starts the server.
func (r *Runner) Serve(s Start) (*supervisor.Process, error) {
	cmd := r.command(r.cfg.ServeArgs(s), nil)
	r.log.Info("starting mariadbd", "new_cluster", s.NewCluster, "args", cmd.Args)
	return r.reaper.Start("mariadbd", cmd)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
