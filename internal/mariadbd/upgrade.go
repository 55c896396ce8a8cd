package mariadbd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/tail"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// Version asks the mariadbd binary its version (mariadbd --version, which
// reads no option file and touches no data).
func (r *Runner) Version(ctx context.Context) (upgrade.Version, error) {
	if len(r.cfg.Command) == 0 {
		return upgrade.Version{}, errors.New("no mariadbd command")
	}
	out, err := r.run(ctx, "mariadbd --version", []string{r.cfg.Command[0], "--version"}, time.Minute)
	if err != nil {
		return upgrade.Version{}, err
	}
	return upgrade.Parse(string(out))
}

// UpgradeArgs is the argv of mariadb-upgrade against the running server
// at socket, as the sentinel's own operating-system user (the account of
// that name that mariadb-install-db and the distribution packages give
// unix_socket authentication): no option file (a [client] password of
// the host is not ours to use), nothing written to the binary log, which
// Galera would not replicate anyway and a replica must not apply
// (--skip-write-binlog), and run whatever its marker says (--force): the
// sentinel decided it is needed, the marker alone cannot be believed.
func (c Config) UpgradeArgs(bin, socket string) []string {
	args := []string{bin, "--no-defaults", "--protocol=socket", "--skip-write-binlog", "--force"}
	if socket != "" {
		args = append(args, "--socket="+socket)
	}
	if c.OSUser != "" {
		args = append(args, "--user="+c.OSUser)
	}
	return args
}

// UpgradeBinary finds mariadb-upgrade (mysql_upgrade in older packages).
func UpgradeBinary() (string, error) {
	for _, name := range []string{"mariadb-upgrade", "mysql_upgrade"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("neither mariadb-upgrade nor mysql_upgrade is installed (Debian: package mariadb-client)")
}

// Upgrade runs mariadb-upgrade against the running server at socket and
// returns what it printed.
func (r *Runner) Upgrade(ctx context.Context, socket string, timeout time.Duration) ([]byte, error) {
	bin, err := UpgradeBinary()
	if err != nil {
		return nil, err
	}
	return r.run(ctx, "mariadb-upgrade", r.cfg.UpgradeArgs(bin, socket), timeout)
}

// ClientBinary finds the command-line client (mysql in older packages).
func ClientBinary() (string, error) {
	for _, name := range []string{"mariadb", "mysql"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("neither mariadb nor mysql is installed (Debian: package mariadb-client)")
}

// QueryArgs is the argv of the client running one statement against the
// server at socket, as the sentinel's own operating-system user (see
// UpgradeArgs), its rows tab-separated without a header.
func (c Config) QueryArgs(bin, socket, statement string) []string {
	args := []string{bin, "--no-defaults", "--protocol=socket", "--batch", "--skip-column-names"}
	if socket != "" {
		args = append(args, "--socket="+socket)
	}
	if c.OSUser != "" {
		args = append(args, "--user="+c.OSUser)
	}
	return append(args, "--execute="+statement)
}

// Query runs one statement with the client over the socket, with the
// rights of the sentinel's own account (what the monitoring account is
// not given: reading the privilege tables).
func (r *Runner) Query(ctx context.Context, socket, statement string, timeout time.Duration) ([]byte, error) {
	bin, err := ClientBinary()
	if err != nil {
		return nil, err
	}
	return r.run(ctx, "mariadb", r.cfg.QueryArgs(bin, socket, statement), timeout)
}

// run runs a short command through the supervisor (which reaps it, PID 1
// or not) and returns its output; a non-zero exit is an error with the
// output's last lines.
func (r *Runner) run(ctx context.Context, name string, argv []string, timeout time.Duration) ([]byte, error) {
	f, err := os.CreateTemp("", "galera-sentinel-cmd-*.log")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := r.command(argv, nil)
	cmd.Stdout, cmd.Stderr = f, f
	p, err := r.start(name, cmd)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out, err := tail.File(f, tailMax)
	if err != nil {
		return nil, fmt.Errorf("read %s's output: %w", name, err)
	}
	if p.ExitCode() != 0 {
		return out, fmt.Errorf("%s: %s: %s", name, p.Describe(), strings.TrimSpace(tail.Lines(string(out), 5)))
	}
	return out, nil
}
