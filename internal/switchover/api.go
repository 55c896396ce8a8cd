// Package switchover moves the primary of an asynchronous replication set
// to another member on request: the three steps each sentinel performs on
// its own server (demote, promote after a bounded GTID wait, follow a new
// primary), served as a token-protected API, and the orchestration the
// `switchover` command runs over every member's sentinel.
//
// It never fails over by itself: a lost primary is an operator's call
// (docs/replication.md). It must not read flags or the environment, and
// its decisions (Decide, Match) do no I/O.
package switchover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// Paths of the API.
const (
	PathDemote  = "/api/v1/replication/demote"
	PathPromote = "/api/v1/replication/promote"
	PathFollow  = "/api/v1/replication/follow"
)

// Defaults and bounds of the API.
const (
	DefaultWait = 30 * time.Second
	MaxWait     = 10 * time.Minute
	// DefaultStepTimeout bounds a step's SQL besides promote's wait.
	DefaultStepTimeout = 30 * time.Second
)

// State is what a step needs to know of its server before acting.
type State struct {
	ReadOnly   bool
	HasReplica bool // a replica row exists (SHOW SLAVE STATUS has a row)
	MasterHost string
	MasterPort int
	BinlogPos  string
	SlavePos   string
}

// Primary is a server to replicate from.
type Primary struct {
	Host string
	Port int
}

// Server is the local server's operations a step uses; DB is the real one
// (internal/replops), tests use a fake.
type Server interface {
	State(ctx context.Context) (State, error)
	// Demote sets read_only=ON and returns gtid_binlog_pos once the
	// writes in progress have finished.
	Demote(ctx context.Context) (pos string, err error)
	// WaitGTID waits until the server applied pos, up to timeout
	// (MASTER_GTID_WAIT); ErrWaitTimeout when it did not.
	WaitGTID(ctx context.Context, pos string, timeout time.Duration) error
	// Promote stops replication, forgets the replica row and sets
	// read_only=OFF.
	Promote(ctx context.Context) error
	// SetSlavePos sets gtid_slave_pos (no replication thread running).
	SetSlavePos(ctx context.Context, pos string) error
	// Follow makes the server a read-only replica of p, with GTIDs
	// (slave_pos), and starts replication.
	Follow(ctx context.Context, p Primary) error
	// CanFollow says why Follow could not repoint a server that has no
	// replica row yet (no replication account); nil when it can.
	CanFollow() error
}

// ErrWaitTimeout: the candidate did not apply the position in time.
var ErrWaitTimeout = errors.New("MASTER_GTID_WAIT timed out")

// Config is the API's configuration.
type Config struct {
	Token string
	// Tokens, when set, replaces Token: a caller presents any of them.
	Tokens      *httpserver.Tokens
	Logger      *slog.Logger
	StepTimeout time.Duration // default DefaultStepTimeout
	MaxWait     time.Duration // the longest ?timeout= accepted; default MaxWait
}

// API serves the three steps. One step runs at a time on a sentinel.
type API struct {
	srv Server
	cfg Config
	mu  sync.Mutex
}

// New returns the API over srv.
func New(srv Server, cfg Config) *API {
	if cfg.StepTimeout <= 0 {
		cfg.StepTimeout = DefaultStepTimeout
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = MaxWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Logger = cfg.Logger.With("component", "switchover")
	return &API{srv: srv, cfg: cfg}
}

// Register adds the endpoints behind the token (httpserver.Routes).
func (a *API) Register(mux *http.ServeMux) {
	t := a.cfg.Tokens
	if t == nil {
		t = httpserver.StaticTokens(a.cfg.Token)
	}
	auth := httpserver.RequireTokens(t, a.cfg.Logger)
	mux.Handle("POST "+PathDemote, auth(a.step("demote", a.demote)))
	mux.Handle("POST "+PathPromote, auth(a.step("promote", a.promote)))
	mux.Handle("POST "+PathFollow, auth(a.step("follow", a.follow)))
}

var _ httpserver.Routes = (*API)(nil)

// Result is a step's answer: 200 with the server's position after it, or
// an error and whether the step changed anything on the server.
type Result struct {
	Step          string  `json:"step"`
	GTIDBinlogPos string  `json:"gtid_binlog_pos,omitempty"`
	Primary       string  `json:"primary,omitempty"`
	Already       bool    `json:"already,omitempty"` // nothing to do: the server was in that state
	Seconds       float64 `json:"seconds"`
	Error         string  `json:"error,omitempty"`
	// Changed is set on an error once the step changed something (so an
	// orchestrator must not assume the server is as it was).
	Changed bool `json:"changed"`
}

// stepError is a failed step: its HTTP code, and whether it changed the
// server.
type stepError struct {
	code    int
	changed bool
	err     error
}

func (e *stepError) Error() string { return e.err.Error() }

func badRequest(f string, a ...any) error {
	return &stepError{code: http.StatusBadRequest, err: fmt.Errorf(f, a...)}
}

func conflict(f string, a ...any) error {
	return &stepError{code: http.StatusConflict, err: fmt.Errorf(f, a...)}
}

func failed(changed bool, err error) error {
	return &stepError{code: http.StatusInternalServerError, changed: changed, err: err}
}

type stepFunc func(ctx context.Context, r *http.Request, res *Result) error

// step runs one step under the mutex and writes its JSON answer.
func (a *API) step(name string, f stepFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := Result{Step: name}
		start := time.Now()
		var err error
		if !a.mu.TryLock() {
			err = conflict("another switchover step is running on this sentinel")
		} else {
			err = f(r.Context(), r, &res)
			a.mu.Unlock()
		}
		res.Seconds = time.Since(start).Seconds()
		code := http.StatusOK
		if err != nil {
			code = http.StatusInternalServerError
			if se, ok := errors.AsType[*stepError](err); ok {
				code, res.Changed = se.code, se.changed
			}
			res.Error = err.Error()
			a.cfg.Logger.Warn("switchover step failed", "step", name, "remote", r.RemoteAddr, "code", code, "changed", res.Changed, "error", err)
		} else {
			a.cfg.Logger.Info("switchover step", "step", name, "remote", r.RemoteAddr, "gtid_binlog_pos", res.GTIDBinlogPos,
				"primary", res.Primary, "already", res.Already, "seconds", res.Seconds)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(res)
	})
}

// noParams refuses query parameters a step does not take.
func noParams(r *http.Request, allowed ...string) error {
	for k := range r.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return badRequest("unknown parameter %q", k)
		}
	}
	return nil
}

// demote: read_only=ON, then the position every acknowledged write is
// within. Refused on a replica: demoting one is a mistake of the caller
// (it names the wrong primary), not a no-op to hide.
func (a *API) demote(ctx context.Context, r *http.Request, res *Result) error {
	if err := noParams(r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StepTimeout)
	defer cancel()
	st, err := a.srv.State(ctx)
	if err != nil {
		return failed(false, fmt.Errorf("read the server's state: %w", err))
	}
	if st.HasReplica {
		return conflict("this server is a replica (of %s:%d), not the primary: nothing to demote", st.MasterHost, st.MasterPort)
	}
	res.Already = st.ReadOnly
	pos, err := a.srv.Demote(ctx)
	if err != nil {
		return failed(!st.ReadOnly, fmt.Errorf("demote: %w", err))
	}
	res.GTIDBinlogPos = pos
	return nil
}

// promote: wait until the server applied ?wait= (bounded by ?timeout=),
// then stop replicating and take writes. A wait that times out changes
// nothing: the server still replicates, read-only.
func (a *API) promote(ctx context.Context, r *http.Request, res *Result) error {
	if err := noParams(r, "wait", "timeout"); err != nil {
		return err
	}
	q := r.URL.Query()
	wait := q.Get("wait")
	if wait != "" {
		if _, err := replica.ParseGTIDList(wait); err != nil {
			return badRequest("wait=%q: %v", wait, err)
		}
	}
	timeout := DefaultWait
	if s := q.Get("timeout"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > a.cfg.MaxWait {
			return badRequest("timeout=%q: want a duration above 0 and at most %s (e.g. 30s)", s, a.cfg.MaxWait)
		}
		timeout = d
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+a.cfg.StepTimeout)
	defer cancel()
	st, err := a.srv.State(ctx)
	if err != nil {
		return failed(false, fmt.Errorf("read the server's state: %w", err))
	}
	if !st.HasReplica && !st.ReadOnly {
		res.Already = true
	} else {
		if wait != "" {
			if !st.HasReplica {
				return conflict("wait=%s: this server replicates from nobody, it cannot catch up", wait)
			}
			if err := a.srv.WaitGTID(ctx, wait, timeout); err != nil {
				if errors.Is(err, ErrWaitTimeout) {
					return &stepError{code: http.StatusGatewayTimeout, err: fmt.Errorf("did not apply %s within %s; nothing changed (still a read-only replica)", wait, timeout)}
				}
				return failed(false, fmt.Errorf("wait for %s: %w", wait, err))
			}
		}
		if err := a.srv.Promote(ctx); err != nil {
			return failed(true, fmt.Errorf("promote: %w", err))
		}
	}
	st, err = a.srv.State(ctx)
	if err != nil {
		return failed(!res.Already, fmt.Errorf("read the position after promote: %w", err))
	}
	res.GTIDBinlogPos = st.BinlogPos
	return nil
}

// follow: replicate from ?primary=HOST[:PORT]. A server with no replica
// row (a demoted primary) first takes its own history as its slave
// position, so that it asks the new primary for what follows it rather
// than for everything again. A writable server without a replica row is a
// working primary and is refused: demote it first.
func (a *API) follow(ctx context.Context, r *http.Request, res *Result) error {
	if err := noParams(r, "primary", "check"); err != nil {
		return err
	}
	raw := r.URL.Query().Get("primary")
	if raw == "" {
		return badRequest("primary= is required: the new primary's MariaDB address, HOST[:PORT]")
	}
	addr, err := normalizeAddr(raw)
	if err != nil {
		return badRequest("primary=%q: %v", raw, err)
	}
	p, err := splitPrimary(addr)
	if err != nil {
		return badRequest("primary=%q: %v", raw, err)
	}
	if c := r.URL.Query().Get("check"); c != "" {
		// check=1: could this sentinel repoint its server (as the
		// switchover asks of the old primary before demoting it)?
		// Changes nothing.
		if c != "1" {
			return badRequest("check=%q: want 1", c)
		}
		if err := a.srv.CanFollow(); err != nil {
			return conflict("%v", err)
		}
		res.Primary = addr
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.StepTimeout)
	defer cancel()
	st, err := a.srv.State(ctx)
	if err != nil {
		return failed(false, fmt.Errorf("read the server's state: %w", err))
	}
	if !st.HasReplica && !st.ReadOnly {
		return conflict("this server is a writable primary: demote it before it follows %s", addr)
	}
	changed := false
	if !st.HasReplica {
		bin, err1 := replica.ParseGTIDList(st.BinlogPos)
		slave, err2 := replica.ParseGTIDList(st.SlavePos)
		if err := errors.Join(err1, err2); err != nil {
			return failed(false, fmt.Errorf("read the server's position: %w", err))
		}
		pos := merged(bin, slave).String()
		if err := a.srv.SetSlavePos(ctx, pos); err != nil {
			return failed(false, fmt.Errorf("set gtid_slave_pos=%s: %w", pos, err))
		}
		changed = true
	}
	if err := a.srv.Follow(ctx, p); err != nil {
		return failed(changed || st.HasReplica, fmt.Errorf("follow %s: %w", addr, err))
	}
	res.Primary = addr
	if st, err := a.srv.State(ctx); err == nil {
		res.GTIDBinlogPos = st.BinlogPos
	}
	return nil
}

func splitPrimary(addr string) (Primary, error) {
	h, p, err := splitHostPort(addr)
	if err != nil {
		return Primary{}, err
	}
	return Primary{Host: h, Port: p}, nil
}
