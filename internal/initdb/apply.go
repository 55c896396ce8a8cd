package initdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
	"github.com/galera-sentinel/galera-sentinel/internal/tail"
)

// Target is the temporary server the accounts and scripts are applied to.
type Target struct {
	// Socket is the temporary server's private socket (it has no TCP).
	Socket string
	// User is the operating-system user the sentinel runs as, whose
	// unix_socket account mariadb-install-db created: no password.
	User string
	// DataDir is passed to scripts as $DATADIR.
	DataDir string
	// Client is the mariadb client binary ("mariadb").
	Client string
	// Home, when set, is a directory whose my.cnf says [client]
	// socket=Socket: scripts get it as MARIADB_HOME and MYSQL_HOME, read
	// after /etc/mysql/my.cnf, so that a plain `mariadb` (or
	// mariadb-admin, ...) in a script reaches the temporary server.
	Home string
	// Start starts a process through the sentinel's reaper.
	Start func(name string, cmd *exec.Cmd) (*supervisor.Process, error)
	// Log receives the steps and what the scripts print.
	Log *slog.Logger
}

func (t Target) db() (*sql.DB, error) {
	c := mysql.NewConfig()
	c.Net, c.Addr, c.User = "unix", t.Socket, t.User
	c.Timeout = 5 * time.Second
	conn, err := mysql.NewConnector(c)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// WaitReady waits until the server answers on the socket, it exits
// (exited is closed), ctx ends or timeout passes.
func (t Target) WaitReady(ctx context.Context, exited <-chan struct{}, timeout time.Duration) error {
	db, err := t.db()
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = db.PingContext(pctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the temporary server exited before it answered")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the temporary server did not answer on %s within %s: %v", t.Socket, timeout, err)
		}
	}
}

// ApplyAccounts runs Statements(a) in one session, as the OS user.
func (t Target) ApplyAccounts(ctx context.Context, a Accounts) error {
	db, err := t.db()
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to the temporary server as %s: %w", t.User, err)
	}
	defer conn.Close()
	for _, s := range Statements(a) {
		if _, err := conn.ExecContext(ctx, s.SQL); err != nil {
			return fmt.Errorf("%s: %s", s.What, redact(err.Error(), a.secrets()))
		}
		t.Log.Info("initdb: " + s.What)
	}
	return nil
}

// RunScripts applies the scripts in order; .sql ones with the database
// of MARIADB_DATABASE selected, as the image does. The first that fails
// stops the rest.
func (t Target) RunScripts(ctx context.Context, a Accounts, scripts []Script) error {
	for _, s := range scripts {
		t.Log.Info("initdb: running " + s.Path)
		var err error
		if s.Kind == SQL {
			err = t.runSQL(ctx, a, s)
		} else {
			err = t.runShell(ctx, a, s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.Path, err)
		}
	}
	return nil
}

// clientArgs is the mariadb client's argv: over the private socket, as
// the OS user (unix_socket), never a password.
func (t Target) clientArgs(database string) []string {
	argv := []string{t.Client, "--protocol=socket", "--socket=" + t.Socket, "--user=" + t.User}
	if database != "" {
		argv = append(argv, "--database="+database)
	}
	return argv
}

// scriptEnv is a script's environment: the sentinel's (with the MARIADB_
// variables), the temporary server's socket as SOCKET and
// MYSQL_UNIX_PORT, Home as MARIADB_HOME and MYSQL_HOME (see Home), and
// $DATADIR.
func (t Target) scriptEnv() []string {
	env := append(os.Environ(), "MYSQL_UNIX_PORT="+t.Socket, "SOCKET="+t.Socket, "DATADIR="+t.DataDir)
	if t.Home != "" {
		env = append(env, "MARIADB_HOME="+t.Home, "MYSQL_HOME="+t.Home)
	}
	return env
}

// ClientConfig is the my.cnf of Home.
func ClientConfig(socket string) []byte {
	return []byte("# written by galera-sentinel for the initdb scripts: the temporary server\n[client]\nsocket=" + socket + "\n")
}

func (t Target) runSQL(ctx context.Context, a Accounts, s Script) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.CreateTemp("", "galera-sentinel-initdb-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	client := exec.Command(t.Client, t.clientArgs(a.Database)[1:]...)
	client.Env = t.scriptEnv()
	client.Stdout, client.Stderr = out, out
	var procs []*supervisor.Process
	if s.Decompress == nil {
		client.Stdin = f
	} else {
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		dec := exec.Command(s.Decompress[0], s.Decompress[1:]...)
		dec.Stdin, dec.Stdout, dec.Stderr = f, pw, out
		p, err := t.Start(s.Decompress[0], dec)
		pw.Close()
		if err != nil {
			pr.Close()
			return err
		}
		procs = append(procs, p)
		client.Stdin = pr
		defer pr.Close()
	}
	p, err := t.Start(t.Client, client)
	if err != nil {
		for _, q := range procs {
			_ = q.Stop(10 * time.Second)
		}
		return err
	}
	procs = append([]*supervisor.Process{p}, procs...)
	return t.wait(ctx, a, out, procs...)
}

func (t Target) runShell(ctx context.Context, a Accounts, s Script) error {
	out, err := os.CreateTemp("", "galera-sentinel-initdb-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	var cmd *exec.Cmd
	if s.Executable {
		cmd = exec.Command(s.Path)
	} else {
		cmd = exec.Command("/bin/sh", s.Path)
	}
	cmd.Env = t.scriptEnv()
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = out, out
	p, err := t.Start(s.Path, cmd)
	if err != nil {
		return err
	}
	return t.wait(ctx, a, out, p)
}

// wait waits for every process, logs what they printed and returns the
// first failure with the end of that output (secrets blanked).
func (t Target) wait(ctx context.Context, a Accounts, out *os.File, procs ...*supervisor.Process) error {
	var failed []string
	for _, p := range procs {
		if err := p.Wait(ctx); err != nil {
			for _, q := range procs {
				_ = q.Stop(10 * time.Second)
			}
			return err
		}
		if p.ExitCode() != 0 {
			failed = append(failed, p.Name+": "+p.Describe())
		}
	}
	b, _ := tail.File(out, 64<<10)
	text := redact(string(b), a.secrets())
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line != "" {
			t.Log.Info(line, "stream", "initdb")
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s\n%s", strings.Join(failed, ", "), tail.Lines(text, 10))
	}
	return nil
}

// redact blanks every secret in s.
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "<redacted>")
	}
	return s
}
