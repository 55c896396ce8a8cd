// Package replmember is asynchronous replication's run mode: what the
// member lifecycle (package member) needs from one primary or replica. It
// starts the server read-only, reads its positions, asks its peers what
// they are, lets replica.DecideStart choose (primary, replica of, clone
// from, wait, refuse) and sets the server up accordingly (the replication
// account and read_only=OFF on the primary; CHANGE MASTER ...
// MASTER_USE_GTID=slave_pos on a replica; a clone of the primary streamed
// by mariadb-backup into an empty data directory). It also serves its
// peers its member document and, behind the token, a backup stream of its
// server (clone.go).
//
// It must not parse flags, serve HTTP itself (it hands its routes to
// whoever serves), make the role decision (package replica's), build
// mariadbd's command line (package mariadbd's), or retry, drain or stop
// mariadbd itself (package member's). It never writes to a data directory
// that holds data, and never makes a server writable while another
// writable primary is reachable.
package replmember

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/datadir"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
	"github.com/galera-sentinel/galera-sentinel/internal/replops"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Config is what the member needs besides its collaborators.
type Config struct {
	// The lifecycle's: drain, stop, retry, journal.
	member.Config
	// Advertise is this member's MariaDB address (host:port) as its peers
	// must connect to it: what a replica's CHANGE MASTER names.
	Advertise string
	// Hosts are the other names and addresses this member is known by
	// (its local addresses, say); NodeName and Advertise's host are
	// added.
	Hosts []string
	// FlaggedPrimary: --primary names this member.
	FlaggedPrimary bool

	// Replication account, created on the primary, used by replicas.
	ReplicationUser, ReplicationPassword string

	// Clone: where the backup tools are, how long a clone may take, the
	// token of the peers' backup endpoint.
	Backup BackupConfig

	// DecideInterval paces the start decision's rounds; Timeout bounds
	// one statement or peer call.
	DecideInterval, Timeout time.Duration
}

// Poller is what the member needs of the health poller.
type Poller = member.Poller[replica.Sample]

// Mariadbd is what the member needs of mariadbd's roles.
type Mariadbd interface {
	Initialise(ctx context.Context) error
	ServeReplication() (*supervisor.Process, error)
}

// Statements are the member's own statements to the local server
// (replops.Conn over the poller's account, which in run mode must be
// allowed to do them).
type Statements interface {
	Ping(ctx context.Context) error
	Read(ctx context.Context) (replops.Positions, error)
	SetReadOnly(ctx context.Context, on bool) error
	EnsureReplicationUser(ctx context.Context, user, password string) error
	Follow(ctx context.Context, p replops.Primary) error
	SetSlavePos(ctx context.Context, pos string) error
	Close() error
}

// Starter starts and reaps the backup tools (supervisor.Reaper).
type Starter interface {
	Start(name string, cmd *exec.Cmd) (*supervisor.Process, error)
}

// PeerSource lists the peers' sentinel addresses (discovery.Source).
type PeerSource interface {
	Peers(ctx context.Context) ([]string, error)
}

// PeerClient reads a peer's open JSON documents and streams its backup,
// presenting the tokens (peer.Client).
type PeerClient interface {
	Get(ctx context.Context, addr, path string, v any) error
	Stream(ctx context.Context, addr, path string, headerWait time.Duration) (*http.Response, error)
}

// Member is one run-mode replication member: the lifecycle over this
// mode.
type Member struct {
	cfg    Config
	poller Poller
	db     Mariadbd
	open   func() (Statements, error)
	source PeerSource
	peers  PeerClient
	reaper Starter
	log    *slog.Logger
	life   *member.Member[replica.Sample]

	mu       sync.Mutex
	phase    string
	empty    bool
	decision member.Decision
	running  *supervisor.Process
	sql      Statements // open from Start until mariadbd stops

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

// New returns a member. open opens the member's connection to the local
// server (replops.Dial).
func New(cfg Config, p Poller, db Mariadbd, open func() (Statements, error), source PeerSource, peers PeerClient, reaper Starter, hurry member.Hurry, log *slog.Logger) *Member {
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
	m := &Member{cfg: cfg, poller: p, db: db, open: open, source: source, peers: peers, reaper: reaper, log: log, phase: PhaseStarting}
	lc := cfg.Config
	lc.Settled = "serving"
	m.life = member.New(lc, member.Mode(m), p, Clients, hurry, log)
	return m
}

// Clients is the number of client connections a sample shows, the
// sentinel's own not counted.
func Clients(s replica.Sample) int { return s.ThreadsConnected - 1 }

// Run is the member's life (member.Member.Run).
func (m *Member) Run(ctx context.Context) error { return m.life.Run(ctx) }

func (m *Member) set(phase string, d member.Decision) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if phase != "" {
		m.phase = phase
	}
	if d.Action != "" {
		m.decision = d
	}
}

// Enter publishes where the lifecycle is (member.Mode). The member's own
// connection is closed as the stop begins, so that the drain does not
// wait for it.
func (m *Member) Enter(p member.Phase, d member.Decision) {
	switch p {
	case member.Running:
		m.set(PhaseRunning, d)
	case member.Stopping:
		m.set(PhaseStopping, d)
		m.closeSQL()
	case member.Exited:
		m.clearRunning()
		m.closeSQL()
	case member.Retrying:
		m.set(PhaseStarting, d)
		m.closeSQL()
	}
}

// Watch has nothing to look at (member.Mode): a replica's broken
// replication is readiness's to report, not a reason to restart it.
func (m *Member) Watch(context.Context, *supervisor.Process, time.Time) (bool, member.Decision) {
	return false, member.Decision{}
}

func (m *Member) closeSQL() {
	m.mu.Lock()
	db := m.sql
	m.sql = nil
	m.mu.Unlock()
	if db != nil {
		_ = db.Close()
	}
}

// Start decides with the peers and starts mariadbd set up for the
// decision (member.Mode). A broken-off clone or initialisation, a
// mariadbd that exits while it starts or decides, and a setup that fails
// are tried again; the connection to the local server that cannot even
// be opened, or a mariadbd that cannot exec, end Run.
func (m *Member) Start(ctx context.Context) (proc *supervisor.Process, err error) {
	empty, err := datadir.Empty(m.cfg.DataDir, nil)
	if err != nil {
		return nil, fmt.Errorf("read the data directory: %w; nothing was started", err)
	}
	m.mu.Lock()
	m.empty = empty
	m.mu.Unlock()
	db, err := m.open()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.sql = db
	m.mu.Unlock()
	defer func() {
		if proc == nil {
			m.closeSQL()
		}
	}()

	if !empty {
		// Read-only and replication not resumed: the positions can be
		// read, nothing is decided yet.
		m.poller.SetHold("starting mariadbd read-only to read its positions")
		if proc, err = m.serve(ctx, db); proc == nil {
			return nil, err
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
					return nil, nil
				}
				m.cleanDataDir()
				return nil, member.Again("initialising the data directory failed: %s", oneline.Error(err))
			}
			m.mu.Lock()
			m.empty = false
			m.mu.Unlock()
			if proc, err = m.serve(ctx, db); proc == nil {
				return nil, err
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
				return nil, nil
			}
			return nil, member.Again("cloning %s failed: %s", d.From, oneline.Error(err))
		}
		m.mu.Lock()
		m.empty = false
		m.mu.Unlock()
		if proc, err = m.serve(ctx, db); proc == nil {
			return nil, err
		}
		qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err = db.SetSlavePos(qctx, pos)
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
	return proc, nil
}

// end stops a mariadbd this try started (cleanly, bounded) and returns
// err, to be tried again; nil, nil when ctx ended.
func (m *Member) end(proc *supervisor.Process, err error) (*supervisor.Process, error) {
	if proc != nil {
		m.set(PhaseStopping, member.Decision{})
		m.log.Info("stopping mariadbd", "pid", proc.Pid, "timeout", m.cfg.ShutdownTimeout)
		serr := member.StopProcess(proc, m.cfg.ShutdownTimeout)
		m.clearRunning()
		m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: "stopped: " + proc.Describe()})
		if serr != nil && err == nil {
			return nil, serr
		}
	}
	if err != nil {
		return nil, member.Again("%s", oneline.Error(err))
	}
	return nil, nil
}

// serve starts mariadbd (read-only, replication not resumed) and waits
// until it answers. A nil process comes with the error to return (nil
// when ctx ended).
func (m *Member) serve(ctx context.Context, db Statements) (*supervisor.Process, error) {
	proc, err := m.db.ServeReplication()
	if err != nil {
		m.poller.SetHold("mariadbd did not start: " + oneline.Error(err))
		return nil, err
	}
	m.mu.Lock()
	m.running = proc
	m.mu.Unlock()
	m.cfg.Events(journal.Event{Kind: journal.KindMariadbd, Reason: fmt.Sprintf("started read-only (pid %d)", proc.Pid)})
	for {
		pctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		err := db.Ping(pctx)
		cancel()
		if err == nil {
			return proc, nil
		}
		select {
		case <-proc.Done():
			m.clearRunning()
			m.cfg.Events(journal.Event{Kind: journal.KindMariadbdExit, Reason: proc.Describe()})
			return nil, member.Again("mariadbd exited during its start (%s)", proc.Describe())
		case <-ctx.Done():
			_, err := m.end(proc, nil)
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (m *Member) clearRunning() {
	m.mu.Lock()
	m.running = nil
	m.mu.Unlock()
}

// Decision is a start decision as the member publishes it: the fix, when
// there is one, follows the reason.
func Decision(d replica.StartDecision) member.Decision {
	reason := d.Reason
	if d.Fix != "" {
		reason += " — to fix: " + d.Fix
	}
	return member.Decision{Action: member.Action(d.Action), Class: member.Class(d.Class), Reason: reason}
}

// decide asks the peers, round after round, until the decision starts
// the member. Waits and refusals hold the member with their reason; the
// positions of a running server are read again every round (an operator
// may have mended what a refusal named). A zero decision means ctx ended.
func (m *Member) decide(ctx context.Context, db Statements, proc *supervisor.Process, empty bool) (replica.StartDecision, error) {
	m.set(PhaseDeciding, member.Decision{})
	var last member.Decision
	for {
		self := replica.SelfState{Name: m.cfg.NodeName, Hosts: m.cfg.Hosts, Empty: empty, FlaggedPrimary: m.cfg.FlaggedPrimary}
		known := proc == nil
		if proc != nil {
			qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
			p, err := db.Read(qctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				m.poller.SetHold("cannot read this server's positions: " + oneline.Error(err))
			}
			if err == nil {
				known = true
				self.BinlogPos, self.SlavePos = p.BinlogPos, p.SlavePos
				self.HasReplica, self.MasterHost, self.MasterPort = p.HasReplica, p.MasterHost, p.MasterPort
				if last.Action == "" {
					m.log.Info("local positions", "gtid_binlog_pos", p.BinlogPos, "gtid_slave_pos", p.SlavePos,
						"replica_of", p.MasterHost, "read_only", p.ReadOnly)
					m.cfg.Events(journal.Event{Kind: journal.KindPosition, Reason: fmt.Sprintf("gtid_binlog_pos %q, gtid_slave_pos %q, replica of %q", p.BinlogPos, p.SlavePos, p.MasterHost)})
				}
			}
		}
		d := replica.StartDecision{Action: replica.StartWait, Class: replica.DecidedPositionsUnknown, Reason: "this server's positions are not known yet"}
		if known {
			d = replica.DecideStart(self, m.peerStates(ctx))
		}
		pub := Decision(d)
		if pub != last {
			lvl := slog.LevelInfo
			if d.Action == replica.StartRefuse {
				lvl = slog.LevelError
			}
			m.log.Log(ctx, lvl, "start decision", "action", string(d.Action), "reason", d.Reason, "fix", d.Fix, "primary", d.Primary)
			m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: pub.String()})
			m.set("", pub)
			last = pub
		}
		if d.Action.Starts() {
			return d, nil
		}
		m.poller.SetHold(pub.String())
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
func (m *Member) becomePrimary(ctx context.Context, db Statements) error {
	for _, p := range m.peerStates(ctx) {
		if p.Sample != nil && p.Sample.Role == replica.RolePrimary && !p.Sample.ReadOnly {
			return fmt.Errorf("%s became a writable primary meanwhile: staying read-only", p.Name)
		}
	}
	qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := db.SetReadOnly(qctx, false); err != nil {
		return err
	}
	if err := db.EnsureReplicationUser(qctx, m.cfg.ReplicationUser, m.cfg.ReplicationPassword); err != nil {
		return err
	}
	m.log.Info("primary: writable, replication account ready", "user", m.cfg.ReplicationUser)
	m.cfg.Events(journal.Event{Kind: journal.KindDecision, Reason: "primary: read_only=OFF"})
	return nil
}

// follow points the server at primary (host:port) and starts replicating.
func (m *Member) follow(ctx context.Context, db Statements, primary string) error {
	host, port, err := splitHostPort(primary)
	if err != nil {
		return fmt.Errorf("primary %q: %w", primary, err)
	}
	qctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := db.SetReadOnly(qctx, true); err != nil {
		return err
	}
	if err := db.Follow(qctx, replops.Primary{Host: host, Port: port, User: m.cfg.ReplicationUser, Password: m.cfg.ReplicationPassword}); err != nil {
		return err
	}
	m.log.Info("replica: following the primary", "primary", primary)
	return nil
}

// cleanDataDir empties a data directory this try found empty and filled
// partly (a clone or an initialisation that broke off): nothing in it was
// there before but what datadir keeps.
func (m *Member) cleanDataDir() {
	if err := datadir.Clean(m.cfg.DataDir, nil); err != nil {
		m.log.Error("could not empty the data directory after a broken-off clone or initialisation", "err", err)
		return
	}
	m.log.Info("emptied the data directory after a broken-off clone or initialisation", "datadir", m.cfg.DataDir)
}
