package galeramember

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/recovery"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// Upgrade is what the member knows of MariaDB's versions and how it
// brings a data directory's system tables to the version it runs.
type Upgrade struct {
	// Binary is the version of this member's mariadbd (zero: unknown;
	// nothing of this is then done).
	Binary upgrade.Version
	// Run runs mariadb-upgrade against the running server; nil when the
	// operator turned it off (--mariadb-upgrade=false): the member then
	// only warns.
	Run func(ctx context.Context) ([]byte, error)
	// RetryMin and RetryMax bound the pause before mariadb-upgrade is
	// tried again after a failure (default 15 s and 5 min).
	RetryMin, RetryMax time.Duration
}

func (u *Upgrade) retryPause(try int) time.Duration {
	lo, hi := u.RetryMin, u.RetryMax
	if lo <= 0 {
		lo = 15 * time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	return min(lo<<min(try-1, 8), max(hi, lo))
}

// upgradeState is one life's progress towards system tables of the
// running version: pending until mariadb-upgrade ran once the member
// was Synced.
type upgradeState struct {
	mu      sync.Mutex
	life    int  // counts armUpgrade: a run of an earlier life is not this one's
	pending bool // mariadb-upgrade must run in this life
	// gate: the member is held not ready until it ran (a version
	// change is known); otherwise (no marker, nothing older known: a
	// state transfer from a donor of this version) it runs once beside
	// the member, and a failure is told, not held against it.
	gate    bool
	from    upgrade.Version // the marker's version when it was found pending
	running bool
	tries   int
	next    time.Time // no try before
	record  bool      // the record must be written once Synced
}

// readVersions reads the versions of this member's data directory for
// the decision: its binary's, and the newest that wrote the data. Data
// that a state transfer replaces (an empty directory keeps only the
// sentinel's own files, an interrupted transfer's) says nothing.
func (m *Member) readVersions(local *recovery.Local) {
	u := m.cfg.Upgrade
	if u == nil || u.Binary.IsZero() {
		return
	}
	local.Version = u.Binary
	if local.Empty || local.NeedsSST {
		return
	}
	d := upgrade.ReadData(m.cfg.DataDir)
	for _, p := range d.Problems {
		m.log.Warn("reading the version that wrote the data directory", "problem", p)
	}
	local.DataVersion = d.Newest
	change := upgrade.From(d.Newest, u.Binary)
	if change == upgrade.Unchanged {
		return
	}
	var what string
	switch change {
	case upgrade.Downgrade:
		what = "a downgrade, which is refused"
	case upgrade.Major, upgrade.Minor:
		what = fmt.Sprintf("a %s: it joins a cluster only of adjacent versions, and mariadb-upgrade runs once it is Synced, before it reports ready", change)
		if u.Run == nil {
			what = fmt.Sprintf("a %s: it joins a cluster only of adjacent versions; mariadb-upgrade is off (--mariadb-upgrade=false): run `mariadb-upgrade --skip-write-binlog` on every member yourself", change)
		}
	}
	reason := fmt.Sprintf("the data directory was last written by MariaDB %s and this is %s: %s", d, u.Binary, what)
	m.log.Warn("MariaDB version changed", "data", d.String(), "binary", u.Binary.String(), "change", change.String())
	m.cfg.Events(journal.Event{Kind: journal.KindUpgrade, Reason: reason})
}

// armUpgrade decides, as mariadbd starts, whether this life must run
// mariadb-upgrade: its marker does not name the running version (a new
// version, a state transfer, which leaves the marker behind, or an
// empty marker of --check-if-upgrade-is-needed). The member is held not
// ready until it ran when a version change is known (gate); a member
// without a marker and nothing older known runs it beside its work.
func (m *Member) armUpgrade() {
	u := m.cfg.Upgrade
	st := &m.upgrade
	st.mu.Lock()
	defer st.mu.Unlock()
	st.life++
	st.pending, st.gate, st.from, st.running, st.tries, st.next, st.record = false, false, upgrade.Version{}, false, 0, time.Time{}, false
	m.poller.SetUpgrading("")
	if u == nil || u.Binary.IsZero() {
		return
	}
	d := upgrade.ReadData(m.cfg.DataDir)
	st.record = d.Record != u.Binary
	if d.Marker == u.Binary {
		return
	}
	st.pending, st.from = true, d.Marker
	st.gate = !d.Marker.IsZero() || (!d.Newest.IsZero() && d.Newest.Compare(u.Binary) < 0)
	if u.Run == nil {
		st.pending, st.gate = false, false
		m.log.Warn("the system tables may not be of the running version and mariadb-upgrade is off (--mariadb-upgrade=false): run `mariadb-upgrade --skip-write-binlog` on this member",
			"marker", d.Marker.String(), "binary", u.Binary.String())
		return
	}
	if !st.gate {
		return
	}
	m.poller.SetUpgrading(fmt.Sprintf("mariadb-upgrade brings the system tables from %s to %s once this member is Synced", markerName(d.Marker), u.Binary))
}

func markerName(v upgrade.Version) string {
	if v.IsZero() {
		return "an unknown version (no upgrade marker)"
	}
	return v.String()
}

// watchUpgrade runs mariadb-upgrade, beside the watch, once a fresh
// sample shows the member Synced, and records the version; a failure is
// tried again with a doubling pause, the member held not ready.
func (m *Member) watchUpgrade(ctx context.Context, synced bool, now time.Time) {
	u := m.cfg.Upgrade
	st := &m.upgrade
	st.mu.Lock()
	defer st.mu.Unlock()
	if u == nil || u.Run == nil && st.pending || !synced || st.running || now.Before(st.next) {
		return
	}
	if !st.pending {
		if st.record {
			st.record = false
			if err := upgrade.WriteRecord(m.cfg.DataDir, u.Binary); err != nil {
				m.log.Warn("recording the running version", "err", err)
			}
		}
		return
	}
	if st.tries == 0 && !st.gate {
		// What a state transfer brought since the start: a donor's redo
		// log of an older version is a version change too.
		if d := upgrade.ReadData(m.cfg.DataDir); !d.Newest.IsZero() && d.Newest.Compare(u.Binary) < 0 {
			st.gate = true
		}
	}
	st.running = true
	st.tries++
	from, try, life, gate := st.from, st.tries, st.life, st.gate
	if gate {
		m.poller.SetUpgrading(fmt.Sprintf("mariadb-upgrade brings the system tables from %s to %s", markerName(from), u.Binary))
	}
	m.log.Info("running mariadb-upgrade", "from", from.String(), "to", u.Binary.String(), "try", try)
	go func() {
		began := time.Now()
		out, err := u.Run(ctx)
		took := time.Since(began).Round(100 * time.Millisecond)
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.life != life || ctx.Err() != nil {
			return // mariadbd was restarted or is stopping meanwhile
		}
		st.running = false
		if err != nil && !gate {
			st.pending = false
			why := fmt.Sprintf("mariadb-upgrade failed after %s: %s. This member has no upgrade marker but nothing says its system tables are older than %s (a state transfer leaves the marker behind): it is not held back; "+
				"run `mariadb-upgrade --skip-write-binlog` on it when you can", took, oneline.Error(err), u.Binary)
			m.log.Warn("mariadb-upgrade failed", "err", err, "output", lastLines(out, 10))
			m.cfg.Events(journal.Event{Kind: journal.KindUpgrade, Reason: why})
			return
		}
		if err != nil {
			pause := u.retryPause(try)
			st.next = time.Now().Add(pause)
			why := fmt.Sprintf("mariadb-upgrade failed after %s (try %d): %s; trying again in %s. This member stays not ready: its system tables may not be of version %s",
				took, try, oneline.Error(err), pause, u.Binary)
			m.log.Error("mariadb-upgrade failed", "err", err, "output", lastLines(out, 10), "try", try, "again_in", pause)
			m.cfg.Events(journal.Event{Kind: journal.KindUpgrade, Reason: why})
			m.poller.SetUpgrading(why)
			return
		}
		st.pending = false
		st.record = false
		if err := upgrade.WriteRecord(m.cfg.DataDir, u.Binary); err != nil {
			m.log.Warn("recording the running version", "err", err)
		}
		reason := fmt.Sprintf("mariadb-upgrade brought the system tables from %s to %s in %s (without the binary log: Galera does not replicate it; every member runs it)", markerName(from), u.Binary, took)
		m.log.Info("mariadb-upgrade done", "from", from.String(), "to", u.Binary.String(), "took", took)
		m.cfg.Events(journal.Event{Kind: journal.KindUpgrade, Reason: reason})
		m.poller.SetUpgrading("")
		m.poller.Kick()
	}()
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// syncedNow reports whether a fresh sample shows the member Synced in a
// Primary component.
func (m *Member) syncedNow(now time.Time) bool {
	snap := m.poller.Snapshot()
	return snap.Last != nil && now.Sub(snap.LastAt) <= m.fresh && snap.Last.SyncedPrimary() && snap.Last.LocalState == galera.StateSynced
}
