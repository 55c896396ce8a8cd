package mariadbd

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

func TestTempArgs(t *testing.T) {
	c := Config{Command: []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf"}, DataDir: "/var/lib/mysql", PassDataDir: true}
	got := c.TempArgs("/tmp/x/mysqld.sock", "/tmp/x/mysqld.pid")
	want := []string{"/usr/sbin/mariadbd", "--defaults-file=/etc/g/my.cnf", "--datadir=/var/lib/mysql", "--wsrep-on=OFF", "--skip-networking",
		"--socket=/tmp/x/mysqld.sock", "--pid-file=/tmp/x/mysqld.pid", "--skip-slave-start",
		"--loose-innodb-buffer-pool-load-at-startup=0", "--loose-innodb-buffer-pool-dump-at-shutdown=0", "--wsrep-cluster-address=gcomm://127.0.0.1:1"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	c.ConfigNamesCluster = true
	if got := c.TempArgs("s", "p"); slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "--wsrep-cluster-address") }) {
		t.Errorf("replaces the configuration's cluster address: %q", got)
	}
}

// TestInitialiseFailureEmptiesOnlyWhatItAdded: an init command that fails
// half-way leaves nothing of its own, and what was there (lost+found, the
// journal) stays. A bad variable is refused before the init command runs.
func TestInitialiseFailureEmptiesOnlyWhatItAdded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, d := range []string{filepath.Join(dir, "lost+found")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, journal.FileName), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reaper := supervisor.NewReaper(false, nil)
	defer reaper.Close()
	log := slog.New(slog.DiscardHandler)
	r := NewRunner(Config{Command: []string{"/bin/false"}, DataDir: dir, ShutdownTimeout: 5 * time.Second,
		InitCommand: `mkdir "$DATADIR/mysql" && touch "$DATADIR/ibdata1" && exit 3`}, reaper, log, log)
	err := r.Initialise(context.Background())
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err %v, want the init command's exit status", err)
	}
	names, _ := dirNames(dir)
	if len(names) != 2 || !names["lost+found"] || !names[journal.FileName] {
		t.Errorf("after the failure the data directory holds %v", names)
	}

	env := map[string]string{"MARIADB_USER": "app"}
	r = NewRunner(Config{Command: []string{"/bin/false"}, DataDir: dir, ShutdownTimeout: 5 * time.Second,
		InitDB: &InitDB{Dir: "/nonexistent", Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}}, reaper, log, log)
	err = r.Initialise(context.Background())
	if err == nil || !strings.Contains(err.Error(), "MARIADB_USER=app is set without MARIADB_PASSWORD") {
		t.Fatalf("err %v", err)
	}
	// mariadb-install-db would have filled it (and been cleaned up):
	// the journal's content shows nothing was rewritten either.
	if names, _ := dirNames(dir); len(names) != 2 {
		t.Errorf("the refused initialisation left %v", names)
	}
}
