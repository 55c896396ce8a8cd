// Package replmember is run mode's member for asynchronous replication:
// the life of one primary or replica from the sentinel's start to
// mariadbd's clean stop. It starts the server read-only, reads its
// positions, asks its peers what they are, lets replica.DecideStart choose
// (primary, replica of, clone from, wait, refuse), sets the server up
// accordingly (the replication account and read_only=OFF on the primary;
// CHANGE MASTER ... MASTER_USE_GTID=slave_pos on a replica; a clone of the
// primary streamed by mariadb-backup into an empty data directory),
// supervises it, and on SIGTERM drains before it stops mariadbd.
//
// It must not parse flags, serve HTTP itself (it hands its routes to
// whoever serves), make the role decision (package replica's), or build
// mariadbd's command line (package mariadbd's). It never writes to a data
// directory that holds data, and never makes a server writable while
// another writable primary is reachable.
package replmember

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
	"github.com/galera-sentinel/galera-sentinel/internal/replops"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Config is what the member needs besides its collaborators.
type Config struct {
	NodeName string
	DataDir  string
	// Advertise is this member's MariaDB address (host:port) as its peers
	// must connect to it: what a replica's CHANGE MASTER names.
	Advertise string
	// Hosts are the other names and addresses this member is known by
	// (its local addresses, say); NodeName and Advertise's host are
	// added.
	Hosts []string
	// FlaggedPrimary: --primary names this member.
	FlaggedPrimary bool

	// The local server, for the member's own statements (read_only,
	// CHANGE MASTER, the replication account): the same account as the
	// poller's, which in run mode must be allowed to do them.
	LocalAddr, LocalUser, LocalPassword string
	// Replication account, created on the primary, used by replicas.
	ReplicationUser, ReplicationPassword string

	// Clone: where the backup tools are, how long a clone may take, the
	// token of the peers' backup endpoint.
	Backup BackupConfig

	DrainDelay, DrainTimeout, ShutdownTimeout time.Duration
	// PollInterval paces the drain's checks; DecideInterval the start
	// decision's rounds; Timeout bounds one statement or peer call.
	PollInterval, DecideInterval, Timeout time.Duration
	// MaxStaleness: how old a sample may be to be published to peers.
	MaxStaleness time.Duration
	// RetryMin and RetryMax bound the pause before another try.
	RetryMin, RetryMax time.Duration
	// Events, when set, receives the member's journal events.
	Events func(journal.Event)
}

// Poller is what the member needs of the health poller.
type Poller interface {
	SetHold(reason string)
	SetStopping()
	Kick()
	Snapshot() *health.Snapshot[replica.Sample]
}

// Mariadbd is what the member needs of mariadbd's roles.
type Mariadbd interface {
	Initialise(ctx context.Context) error
	ServeReplication() (*supervisor.Process, error)
}

// PeerSource lists the peers' sentinel addresses (discovery.Source).
type PeerSource interface {
	Peers(ctx context.Context) ([]string, error)
}

// PeerClient reads a peer's open JSON documents (peer.Client).
type PeerClient interface {
	Get(ctx context.Context, addr, path string, v any) error
}

// Member is one run-mode replication member.
type Member struct {
	cfg    Config
	poller Poller
	db     Mariadbd
	source PeerSource
	peers  PeerClient
	reaper *supervisor.Reaper
	hurry  member.Hurry
	log    *slog.Logger

	mu       sync.Mutex
	phase    string
	empty    bool
	decision string
	running  *supervisor.Process

	backupMu sync.Mutex // one backup served at a time
}

// Phases a member publishes.
const (
	PhaseStarting = "starting"
	PhaseDeciding = "deciding"
	PhaseCloning  = "cloning"
	PhaseRunning  = "running"
	PhaseStopping = "stopping"
)

// New returns a member.
func New(cfg Config, p Poller, db Mariadbd, source PeerSource, peers PeerClient, reaper *supervisor.Reaper, hurry member.Hurry, log *slog.Logger) *Member {
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryMin)
	if cfg.DecideInterval <= 0 {
		cfg.DecideInterval = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Events == nil {
		cfg.Events = func(journal.Event) {}
	}
	cfg.Hosts = append([]string{cfg.NodeName, hostOf(cfg.Advertise)}, cfg.Hosts...)
	return &Member{cfg: cfg, poller: p, db: db, source: source, peers: peers, reaper: reaper, hurry: hurry, log: log, phase: PhaseStarting}
}

func (m *Member) set(phase, decision string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if phase != "" {
		m.phase = phase
	}
	if decision != "" {
		m.decision = decision
	}
}

// retryError is a failure that a later try may mend.
type retryError struct{ reason string }

func (e *retryError) Error() string { return e.reason }

// Run is the member's life: start, decide, set up, supervise, and on
// ctx's end drain and stop. It returns nil after a clean stop, a
// *member.ExitError with mariadbd's status when mariadbd ended otherwise.
// Failures a later try may mend (a clone broken off, mariadbd exiting
// before it served) are tried again in the process with a growing pause,
// the member held (not ready, alive) meanwhile.
func (m *Member) Run(ctx context.Context) error {
	pause := m.cfg.RetryMin
	for try := 1; ; try++ {
		err := m.attempt(ctx)
		var again *retryError
		if !errors.As(err, &again) {
			return err
		}
		reason := fmt.Sprintf("%s; trying again in %s (try %d)", again.reason, pause, try)
		m.log.Warn("will try again", "reason", again.reason, "pause", pause, "try", try)
		m.cfg.Events(journal.Event{Kind: journal.KindRetry, Reason: reason})
		m.poller.SetHold(reason)
		m.set(PhaseStarting, reason)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, m.cfg.RetryMax)
	}
}

func (m *Member) attempt(ctx context.Context) error {
	empty, err := DataDirEmpty(m.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("read the data directory: %w; nothing was started", err)
	}
	m.mu.Lock()
	m.empty = empty
	m.mu.Unlock()
	db, err := replops.Open(m.cfg.LocalAddr, m.cfg.LocalUser, m.cfg.LocalPassword, m.cfg.Timeout)
	if err != nil {
		return err
	}
	defer db.Close()

	var proc *supervisor.Process
	if !empty {
		// Read-only and replication not resumed: the positions can be
		// read, nothing is decided yet.
		m.poller.SetHold("starting mariadbd read-only to read its positions")
		if proc, err = m.serve(ctx, db); proc == nil {
			return err
		}
	}
	d, err := m.decide(ctx, db, proc, empty)
	if err != nil {
		return m.end(proc, err)
	}
	if d.Action == "" { // ctx ended
		return m.end(proc, nil)
	}
	switch d.Action {
	case replica.StartPrimary:
		if empty {
			m.poller.SetHold("initialising the data directory of a new set")
			if err := m.db.Initialise(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.cleanDataDir()
				return &retryError{reason: "initialising the data directory failed: " + oneLine(err)}
			}
			m.mu.Lock()
			m.empty = false
			m.mu.Unlock()
			if proc, err = m.serve(ctx, db); proc == nil {
				return err
			}
		}
		if err := m.becomePrimary(ctx, db); err != nil {
			return m.end(proc, err)
		}
	case replica.StartClone:
		pos, err := m.clone(ctx, d.From)
		if err != nil {
			m.cleanDataDir()
			if ctx.Err() != nil {
				return nil
			}
			return &retryError{reason: fmt.Sprintf("cloning %s failed: %s", d.From, oneLine(err))}
		}
		m.mu.Lock()
		m.empty = false
		m.mu.Unlock()
		if proc, err = m.serve(ctx, db); proc == nil {
			return err
		}
		qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err = replops.SetSlavePos(qctx, db, pos)
		cancel()
		if err != nil {
			return m.end(proc, fmt.Errorf("set the clone's gtid_slave_pos to %q: %w", pos, err))
		}
		m.log.Info("clone started; replicating from the backup's position", "gtid_slave_pos", pos)
		fallthrough
	case replica.StartReplica:
		if err := m.follow(ctx, db, d.Primary); err != nil {
			return m.end(proc, err)
		}
	}
	m.set(PhaseRunning, "")
	m.poller.SetHold("")
	m.poller.Kick()
	return m.supervise(ctx, proc, db)
}

// end stops a mariadbd this attempt started (cleanly, bounded) and
// returns err; a failure to decide is tried again.
func (m *Member) end(proc *supervisor.Process, err error) error {
	if proc != nil {
		if serr := m.stop(proc, false); serr != nil && err == nil {
			return serr
		}
	}
	if err != nil {
		return &retryError{reason: oneLine(err)}
	}
	return nil
}

// serve starts mariadbd (read-only, replication not resumed) and waits
// until it answers. A nil process comes with the error to return (nil
// when ctx ended).
func (m *Member) serve(ctx context.Context, db *sql.DB) (*supervisor.Process, error) {
	proc, err := m.db.ServeReplication()
	if err != nil {
		m.poller.SetHold("mariadbd did not start: " + oneLine(err))
		return nil, err
	}
	m.mu.Lock()
	m.running = proc
	m.mu.Unlock()
	m.cfg.Events(journal.Event{Kind: journal.KindMariadbd, Reason: fmt.Sprintf("started read-only (pid %d)", proc.Pid)})
	for {
		pctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			return proc, nil
		}
		select {
		case <-proc.Done():
			m.clearRunning()
			m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: proc.Describe()})
			return nil, &retryError{reason: fmt.Sprintf("mariadbd exited during its start (%s)", proc.Describe())}
		case <-ctx.Done():
			return nil, m.stop(proc, false)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (m *Member) clearRunning() {
	m.mu.Lock()
	m.running = nil
	m.mu.Unlock()
}

// decide asks the peers, round after round, until the decision starts
// the member. Waits and refusals hold the member with their reason; the
// positions of a running server are read again every round (an operator
// may have mended what a refusal named). A zero decision means ctx ended.
func (m *Member) decide(ctx context.Context, db *sql.DB, proc *supervisor.Process, empty bool) (replica.StartDecision, error) {
	m.set(PhaseDeciding, "")
	last := ""
	for {
		self := replica.SelfState{Name: m.cfg.NodeName, Hosts: m.cfg.Hosts, Empty: empty, FlaggedPrimary: m.cfg.FlaggedPrimary}
		known := proc == nil
		if proc != nil {
			qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
			p, err := replops.Read(qctx, db)
			cancel()
			if err != nil && ctx.Err() == nil {
				m.poller.SetHold("cannot read this server's positions: " + oneLine(err))
			}
			if err == nil {
				known = true
				self.BinlogPos, self.SlavePos = p.BinlogPos, p.SlavePos
				self.HasReplica, self.MasterHost, self.MasterPort = p.HasReplica, p.MasterHost, p.MasterPort
				if last == "" {
					m.log.Info("local positions", "gtid_binlog_pos", p.BinlogPos, "gtid_slave_pos", p.SlavePos,
						"replica_of", p.MasterHost, "read_only", p.ReadOnly)
					m.cfg.Events(journal.Event{Kind: journal.KindPosition, Reason: fmt.Sprintf("gtid_binlog_pos %q, gtid_slave_pos %q, replica of %q", p.BinlogPos, p.SlavePos, p.MasterHost)})
				}
			}
		}
		d := replica.StartDecision{Action: replica.StartWait, Reason: "this server's positions are not known yet"}
		if known {
			d = replica.DecideStart(self, m.peerStates(ctx))
		}
		text := string(d.Action) + ": " + d.Reason
		if d.Fix != "" {
			text += " — to fix: " + d.Fix
		}
		if text != last {
			lvl := slog.LevelInfo
			if d.Action == replica.StartRefuse {
				lvl = slog.LevelError
			}
			m.log.Log(ctx, lvl, "start decision", "action", string(d.Action), "reason", d.Reason, "fix", d.Fix, "primary", d.Primary)
			m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: text})
			m.set("", text)
			last = text
		}
		if d.Action.Starts() {
			return d, nil
		}
		m.poller.SetHold(text)
		t := time.NewTimer(m.cfg.DecideInterval)
		var exited <-chan struct{}
		if proc != nil {
			exited = proc.Done()
		}
		select {
		case <-ctx.Done():
			t.Stop()
			return replica.StartDecision{}, nil
		case <-exited:
			t.Stop()
			m.clearRunning()
			return replica.StartDecision{}, fmt.Errorf("mariadbd exited while deciding (%s)", proc.Describe())
		case <-t.C:
		}
	}
}

// peerStates asks every peer's sentinel for its member document.
func (m *Member) peerStates(ctx context.Context) []replica.PeerState {
	addrs, err := m.source.Peers(ctx)
	if err != nil {
		m.log.Warn("peer discovery", "err", err)
	}
	out := make([]replica.PeerState, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		out[i].Name = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			var doc Doc
			pctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
			defer cancel()
			if err := m.peers.Get(pctx, a, StatePath, &doc); err != nil {
				return
			}
			if doc.Name == m.cfg.NodeName {
				out[i].Name = "" // ourselves, found by discovery
				return
			}
			out[i] = replica.PeerState{Name: a, Reachable: true, Addr: doc.Addr, Empty: doc.Empty, Sample: doc.Sample}
		}()
	}
	wg.Wait()
	res := out[:0]
	for _, p := range out {
		if p.Name != "" {
			res = append(res, p)
		}
	}
	return res
}

// becomePrimary turns read_only off, after one more look at the peers
// (the decision may be seconds old: an initialisation ran since), and
// makes sure the replication account exists.
func (m *Member) becomePrimary(ctx context.Context, db *sql.DB) error {
	for _, p := range m.peerStates(ctx) {
		if p.Sample != nil && p.Sample.Role == replica.RolePrimary && !p.Sample.ReadOnly {
			return fmt.Errorf("%s became a writable primary meanwhile: staying read-only", p.Name)
		}
	}
	qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := replops.SetReadOnly(qctx, db, false); err != nil {
		return err
	}
	if err := replops.EnsureReplicationUser(qctx, db, m.cfg.ReplicationUser, m.cfg.ReplicationPassword); err != nil {
		return err
	}
	m.log.Info("primary: writable, replication account ready", "user", m.cfg.ReplicationUser)
	m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: "primary: read_only=OFF"})
	return nil
}

// follow points the server at primary (host:port) and starts replicating.
func (m *Member) follow(ctx context.Context, db *sql.DB, primary string) error {
	host, port, err := splitHostPort(primary)
	if err != nil {
		return fmt.Errorf("primary %q: %w", primary, err)
	}
	qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := replops.SetReadOnly(qctx, db, true); err != nil {
		return err
	}
	if err := replops.Follow(qctx, db, replops.Primary{Host: host, Port: port, User: m.cfg.ReplicationUser, Password: m.cfg.ReplicationPassword}); err != nil {
		return err
	}
	m.log.Info("replica: following the primary", "primary", primary)
	return nil
}

// supervise waits for mariadbd to exit or ctx to end.
// The member's own connections are closed first, so that the drain does
// not wait for them.
func (m *Member) supervise(ctx context.Context, proc *supervisor.Process, db *sql.DB) error {
	started := time.Now()
	select {
	case <-proc.Done():
		m.clearRunning()
		m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: proc.Describe()})
		if s := m.poller.Snapshot(); s.SettledAt.Before(started) {
			return &retryError{reason: fmt.Sprintf("mariadbd exited before it served (%s)", proc.Describe())}
		}
		msg := fmt.Sprintf("mariadbd exited on its own (%s); exiting so the orchestrator restarts this member", proc.Describe())
		m.log.Error(msg)
		return &member.ExitError{Code: proc.ExitCode(), Msg: msg}
	case <-ctx.Done():
		db.Close()
		return m.stop(proc, true)
	}
}

// stop drains (when asked), then stops mariadbd within the shutdown
// timeout.
func (m *Member) stop(proc *supervisor.Process, drain bool) error {
	m.set(PhaseStopping, "")
	if drain {
		m.drain(proc)
	}
	m.log.Info("stopping mariadbd", "pid", proc.Pid, "timeout", m.cfg.ShutdownTimeout)
	begin := time.Now()
	err := proc.Stop(m.cfg.ShutdownTimeout)
	m.clearRunning()
	if err != nil {
		m.log.Error("mariadbd shutdown", "err", err)
		return &member.ExitError{Code: proc.ExitCode(), Msg: err.Error()}
	}
	m.log.Info("mariadbd stopped", "status", proc.Describe(), "took", time.Since(begin).Round(time.Millisecond))
	m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: "stopped: " + proc.Describe()})
	if code := proc.ExitCode(); code != 0 {
		return &member.ExitError{Code: code, Msg: "mariadbd " + proc.Describe()}
	}
	return nil
}

// drain takes the node out of the load balancer before mariadbd stops:
// readiness 503 at once, DrainDelay for the load balancer to notice, then
// up to DrainTimeout for client connections to close. A second signal,
// or mariadbd exiting, cuts it short.
func (m *Member) drain(proc *supervisor.Process) {
	m.poller.SetStopping()
	hurry, stop := m.hurry()
	defer stop()
	begin := time.Now()
	m.log.Info("draining: readiness is 503; waiting for the load balancer", "drain_delay", m.cfg.DrainDelay, "drain_timeout", m.cfg.DrainTimeout)
	m.cfg.Events(journal.Event{Kind: journal.KindDrain, Reason: fmt.Sprintf("began: drain delay %s, drain timeout %s", m.cfg.DrainDelay, m.cfg.DrainTimeout)})
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case sig := <-hurry:
			m.log.Warn("second signal: stopping without finishing the drain", "signal", sig.String())
		case <-proc.Done():
		}
		return false
	}
	if !wait(m.cfg.DrainDelay) {
		return
	}
	deadline := begin.Add(m.cfg.DrainDelay + m.cfg.DrainTimeout)
	for {
		n, fresh := clients(m.poller.Snapshot(), m.cfg.MaxStaleness, time.Now())
		switch {
		case fresh && n == 0:
			m.log.Info("drained: no client connections left", "took", time.Since(begin).Round(time.Millisecond))
			return
		case time.Now().After(deadline):
			m.log.Warn("drain timeout: stopping mariadbd with client connections still open", "connections", n)
			return
		}
		m.poller.Kick()
		if !wait(min(max(m.cfg.PollInterval, 50*time.Millisecond), 250*time.Millisecond)) {
			return
		}
	}
}

// clients is the number of client connections of the last sample, the
// sentinel's own not counted, and whether the sample is fresh.
func clients(s *health.Snapshot[replica.Sample], maxStale time.Duration, now time.Time) (int, bool) {
	if s == nil || s.Last == nil || now.Sub(s.LastAt) > maxStale {
		return 0, false
	}
	return max(s.Last.ThreadsConnected-1, 0), true
}

// ignoredEntries do not make a data directory "not empty": a fresh
// filesystem's lost+found and the sentinel's own event journal.
var ignoredEntries = map[string]bool{"lost+found": true, journal.FileName: true, journal.RotatedName: true}

// DataDirEmpty reports whether dir holds nothing but ignoredEntries (a
// directory that does not exist is empty).
func DataDirEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !ignoredEntries[e.Name()] {
			return false, nil
		}
	}
	return true, nil
}

// cleanDataDir empties a data directory this attempt found empty and
// filled partly (a clone or an initialisation that broke off): nothing in
// it was there before.
func (m *Member) cleanDataDir() {
	entries, err := os.ReadDir(m.cfg.DataDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !ignoredEntries[e.Name()] {
			_ = os.RemoveAll(filepath.Join(m.cfg.DataDir, e.Name()))
		}
	}
	m.log.Info("emptied the data directory after a broken-off clone or initialisation", "datadir", m.cfg.DataDir)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
