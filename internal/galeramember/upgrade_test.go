package galeramember

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

type noSampler struct{}

func (noSampler) Sample(context.Context) (galera.Sample, error) {
	return galera.Sample{}, errors.New("none")
}

// upgradeRig is a member with only what the upgrade needs: a data
// directory, a poller whose hold shows, a journal and a mariadb-upgrade
// that answers what the test says.
type upgradeRig struct {
	m      *Member
	poller *health.Poller[galera.Sample]
	mu     sync.Mutex
	events []string
	runs   int
	fail   error
}

func newUpgradeRig(t *testing.T, marker string, run bool) *upgradeRig {
	dir := t.TempDir()
	if marker != "" {
		if err := os.WriteFile(filepath.Join(dir, upgrade.MarkerFile), []byte(marker), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &upgradeRig{}
	judge := readiness.Judge[galera.Sample]{Policy: galera.Policy{}, Limits: readiness.Limits{MaxStaleness: 2 * time.Second}}
	r.poller = health.NewPoller(health.PollerConfig{Interval: time.Second, Timeout: time.Second}, judge, health.Sampler[galera.Sample](noSampler{}))
	u := &Upgrade{Binary: upgrade.Version{Major: 10, Minor: 11, Patch: 19}, RetryMin: time.Hour, RetryMax: time.Hour}
	if run {
		u.Run = func(context.Context) ([]byte, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.runs++
			return []byte("Phase 1/8: Checking and upgrading mysql database\n"), r.fail
		}
	}
	cfg := Config{Upgrade: u}
	cfg.DataDir = dir
	cfg.Events = func(e journal.Event) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.events = append(r.events, e.Kind+": "+e.Reason)
	}
	r.m = &Member{cfg: cfg, poller: r.poller, log: slog.New(slog.DiscardHandler), fresh: 2 * time.Second}
	return r
}

func (r *upgradeRig) upgrading() string { return r.poller.Snapshot().Upgrading }

// settle waits for the run that watchUpgrade started to end.
func (r *upgradeRig) settle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r.m.upgrade.mu.Lock()
		running := r.m.upgrade.running
		r.m.upgrade.mu.Unlock()
		if !running {
			return
		}
	}
	t.Fatal("mariadb-upgrade still running")
}

func (r *upgradeRig) journal() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, "\n")
}

// TestUpgradeGate: a marker of an older version holds the member not
// ready from its start until mariadb-upgrade ran once it was Synced; a
// failure keeps it held, says why and is tried again only after the
// pause; success releases it, records the version and says so.
func TestUpgradeGate(t *testing.T) {
	r := newUpgradeRig(t, "10.11.6-MariaDB", true)
	ctx := context.Background()
	r.m.armUpgrade()
	if got := r.upgrading(); !strings.Contains(got, "from 10.11.6 to 10.11.19 once this member is Synced") {
		t.Fatalf("held %q at the start", got)
	}
	r.m.watchUpgrade(ctx, false, time.Now())
	if r.runs != 0 {
		t.Fatal("ran before the member was Synced")
	}
	r.fail = errors.New("exit status 1: Access denied for user 'mysql'@'localhost'")
	r.m.watchUpgrade(ctx, true, time.Now())
	r.settle(t)
	if got := r.upgrading(); !strings.Contains(got, "mariadb-upgrade failed") || !strings.Contains(got, "Access denied") || !strings.Contains(got, "trying again in 1h0m0s") {
		t.Errorf("after a failure: held %q", got)
	}
	r.m.watchUpgrade(ctx, true, time.Now())
	if r.runs != 1 {
		t.Errorf("%d runs: tried again before the pause", r.runs)
	}
	r.fail = nil
	r.m.watchUpgrade(ctx, true, time.Now().Add(2*time.Hour))
	r.settle(t)
	if r.runs != 2 || r.upgrading() != "" {
		t.Errorf("after success: %d runs, held %q", r.runs, r.upgrading())
	}
	if d := upgrade.ReadData(r.m.cfg.DataDir); d.Record != r.m.cfg.Upgrade.Binary {
		t.Errorf("recorded %v", d.Record)
	}
	if j := r.journal(); !strings.Contains(j, "upgrade: mariadb-upgrade failed") || !strings.Contains(j, "upgrade: mariadb-upgrade brought the system tables from 10.11.6 to 10.11.19") {
		t.Errorf("journal:\n%s", j)
	}
	r.m.watchUpgrade(ctx, true, time.Now().Add(4*time.Hour))
	if r.runs != 2 {
		t.Errorf("ran again after success (%d runs)", r.runs)
	}
}

// TestUpgradeWithoutMarker: no marker and nothing older known (a state
// transfer from a donor of this version): it runs beside the member, a
// failure only warns; the marker of the running version needs nothing;
// with mariadb-upgrade off nothing is held.
func TestUpgradeWithoutMarker(t *testing.T) {
	ctx := context.Background()
	r := newUpgradeRig(t, "", true)
	r.fail = errors.New("exit status 1")
	r.m.armUpgrade()
	if got := r.upgrading(); got != "" {
		t.Errorf("held %q without a known version change", got)
	}
	r.m.watchUpgrade(ctx, true, time.Now())
	r.settle(t)
	if r.runs != 1 || r.upgrading() != "" || !strings.Contains(r.journal(), "it is not held back") {
		t.Errorf("%d runs, held %q, journal:\n%s", r.runs, r.upgrading(), r.journal())
	}
	r.m.watchUpgrade(ctx, true, time.Now().Add(2*time.Hour))
	if r.runs != 1 {
		t.Errorf("a failure without a version change was tried again (%d runs)", r.runs)
	}

	same := newUpgradeRig(t, "10.11.19-MariaDB", true)
	same.m.armUpgrade()
	same.m.watchUpgrade(ctx, true, time.Now())
	same.settle(t)
	if same.runs != 0 || same.upgrading() != "" {
		t.Errorf("marker of the running version: %d runs, held %q", same.runs, same.upgrading())
	}
	if d := upgrade.ReadData(same.m.cfg.DataDir); d.Record != same.m.cfg.Upgrade.Binary {
		t.Errorf("the running version was not recorded: %v", d.Record)
	}

	off := newUpgradeRig(t, "10.11.6-MariaDB", false)
	off.m.armUpgrade()
	off.m.watchUpgrade(ctx, true, time.Now())
	if off.upgrading() != "" {
		t.Errorf("mariadb-upgrade off, held %q", off.upgrading())
	}
}
