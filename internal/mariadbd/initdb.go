package mariadbd

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/initdb"
)

// InitDB is what is applied to a new data directory after
// mariadb-install-db, as the official image does: the accounts of the
// MARIADB_ variables (read when it is applied) and the scripts of Dir.
type InitDB struct {
	// Dir holds the *.sql, *.sql.gz, *.sql.xz, *.sql.zst and *.sh files
	// (/docker-entrypoint-initdb.d); missing is none.
	Dir string
	// Env is os.LookupEnv.
	Env initdb.LookupEnv
	// Client is the mariadb client; "" is "mariadb".
	Client string
}

// tempReadyTimeout bounds the temporary server's start.
const tempReadyTimeout = 5 * time.Minute

// TempArgs is the argv of the temporary server the accounts and scripts
// are applied to: mariadbd as the real one is run (its configuration, its
// user), with wsrep off (this member alone; the others get the result by
// state transfer), no TCP, and a private socket and pid file.
func (c Config) TempArgs(socket, pidFile string) []string {
	args := append(c.base(), "--wsrep-on=OFF", "--skip-networking", "--socket="+socket, "--pid-file="+pidFile,
		"--skip-slave-start", "--loose-innodb-buffer-pool-load-at-startup=0", "--loose-innodb-buffer-pool-dump-at-shutdown=0")
	if !c.ConfigNamesCluster {
		args = append(args, "--wsrep-cluster-address="+recoverClusterAddress)
	}
	return args
}

// initDB applies acc and the scripts of in to the freshly installed data directory on a
// temporary server, and shuts that down cleanly.
func (r *Runner) initDB(ctx context.Context, in InitDB, acc initdb.Accounts) error {
	scripts, ignored, err := initdb.List(in.Dir)
	if err != nil {
		return err
	}
	for _, name := range ignored {
		r.log.Warn("initdb: ignoring a file that is not *.sh, *.sql, *.sql.gz, *.sql.xz or *.sql.zst", "file", filepath.Join(in.Dir, name))
	}
	if acc.Empty() && len(scripts) == 0 {
		r.log.Info("no MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER nor initdb scripts: root and the OS user log in by unix_socket only", "initdb_dir", in.Dir)
		return nil
	}
	dir, err := os.MkdirTemp("", "galera-sentinel-initdb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := r.chownRunAs(dir); err != nil {
		return err
	}
	sock, pidFile := filepath.Join(dir, "mysqld.sock"), filepath.Join(dir, "mysqld.pid")
	if err := os.WriteFile(filepath.Join(dir, "my.cnf"), initdb.ClientConfig(sock), 0o644); err != nil {
		return err
	}
	cmd := r.command(r.cfg.TempArgs(sock, pidFile), nil)
	r.log.Info("initdb: starting a temporary mariadbd (wsrep off, no networking) for the accounts and scripts", "args", cmd.Args,
		"root_password", acc.RootPassword != "", "root_host", acc.RootHost, "database", acc.Database, "user", acc.User, "scripts", len(scripts))
	p, err := r.start("temporary mariadbd", cmd)
	if err != nil {
		return err
	}
	running := true
	defer func() {
		if running {
			if err := p.Stop(r.cfg.ShutdownTimeout); err != nil {
				r.log.Error("initdb: stopping the temporary mariadbd", "err", err)
			}
		}
	}()
	client := in.Client
	if client == "" {
		client = "mariadb"
	}
	osUser := r.cfg.OSUser
	if osUser == "" {
		osUser = "root"
	}
	t := initdb.Target{Socket: sock, User: osUser, DataDir: r.cfg.DataDir, Client: client, Home: dir, Start: r.reaper.Start, Log: r.log}
	if err := t.WaitReady(ctx, p.Done(), tempReadyTimeout); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	if err := t.ApplyAccounts(ctx, acc); err != nil {
		return fmt.Errorf("initdb: accounts: %w", err)
	}
	if err := t.RunScripts(ctx, acc, scripts); err != nil {
		return fmt.Errorf("initdb: script %w", err)
	}
	running = false
	if err := p.Stop(r.cfg.ShutdownTimeout); err != nil {
		return fmt.Errorf("initdb: shutdown of the temporary mariadbd: %w", err)
	}
	if p.ExitCode() != 0 {
		return fmt.Errorf("initdb: the temporary mariadbd did not shut down cleanly: %s", p.Describe())
	}
	r.log.Info("initdb: accounts and scripts applied; the temporary mariadbd shut down cleanly")
	return nil
}

// chownRunAs gives path to the user mariadbd drops to, if it drops.
func (r *Runner) chownRunAs(path string) error {
	if r.cfg.RunAs == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(r.cfg.RunAs)
	if err != nil {
		return fmt.Errorf("temporary socket directory owner: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}
