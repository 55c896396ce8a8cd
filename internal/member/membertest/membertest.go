// Package membertest is the lifecycle tests every database mode passes:
// retry with a doubling pause, an exit before the node settled tried
// again, an exit after it ending Run with mariadbd's status, the drain
// (with the writer handover, ended at once without connections, cut short
// by a second signal) and the bounded stop. A mode's test wires its
// member with fakes into a Rig; a shell plays mariadbd (Shell).
//
// It must not be imported by product code.
package membertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// UntilTerm runs until SIGTERM, on which it exits 0 as mariadbd does
// after a clean shutdown (the trap is Shell's).
const UntilTerm = `while :; do sleep 0.05; done`

// Shell runs a shell in mariadbd's place, with a real reaper.
type Shell struct {
	t      *testing.T
	reaper *supervisor.Reaper
	mu     sync.Mutex
	script string
	starts int
}

// NewShell is a Shell that runs UntilTerm until told otherwise.
func NewShell(t *testing.T) *Shell {
	reaper := supervisor.NewReaper(false, slog.New(slog.DiscardHandler))
	t.Cleanup(reaper.Close)
	return &Shell{t: t, reaper: reaper, script: UntilTerm}
}

// SetScript sets what the next starts run.
func (s *Shell) SetScript(script string) {
	s.mu.Lock()
	s.script = script
	s.mu.Unlock()
}

// Starts is how many times mariadbd was started.
func (s *Shell) Starts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.starts
}

// Reaper is the shell's reaper, for a mode's other children.
func (s *Shell) Reaper() *supervisor.Reaper { return s.reaper }

// Start starts the shell. It installs its SIGTERM trap first, then says
// so: a stop that came before the trap would kill it, which no mariadbd
// does.
func (s *Shell) Start() (*supervisor.Process, error) {
	s.mu.Lock()
	s.starts++
	n, script := s.starts, s.script
	s.mu.Unlock()
	ready := filepath.Join(s.t.TempDir(), fmt.Sprintf("started-%d", n))
	p, err := s.reaper.Start("fake mariadbd", exec.Command("/bin/sh", "-c", `trap "exit 0" TERM; touch `+ready+`; `+script))
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil || time.Now().After(deadline) {
			return p, nil
		}
		select {
		case <-p.Done():
			return p, nil
		default:
		}
	}
}

// Node is what the mode's fake sampler (and its fake server) read: the
// client connections, the sentinel's own included, and whether the node
// answers.
type Node struct {
	conns atomic.Int64
	down  atomic.Pointer[func() bool]
}

// NewNode is a node that answers, with the sentinel's connection alone.
func NewNode() *Node {
	n := &Node{}
	n.conns.Store(1)
	return n
}

// SetConns sets Threads_connected (the sentinel's own included).
func (n *Node) SetConns(c int) { n.conns.Store(int64(c)) }

// Conns is Threads_connected.
func (n *Node) Conns() int { return int(n.conns.Load()) }

// SetDown sets what says when the node does not answer yet.
func (n *Node) SetDown(f func() bool) { n.down.Store(&f) }

// Down reports whether the node does not answer now.
func (n *Node) Down() bool {
	f := n.down.Load()
	return f != nil && (*f)()
}

// Rig is one mode's member wired with fakes around Shell and Node.
type Rig struct {
	Run   func(ctx context.Context) error
	Shell *Shell
	Node  *Node
	// Hurry is the second signal's channel the member subscribes to.
	Hurry chan os.Signal
	// Running reports whether the member publishes that mariadbd runs
	// and its node is ready.
	Running func() bool
	// Stopping reports whether the poller was told the member stops.
	Stopping func() bool
}

// NewRig wires a mode's member from cfg (the lifecycle's settings, its
// Events set by the test); zero durations the rig chooses.
type NewRig func(t *testing.T, cfg member.Config) *Rig

// fakeSessions plays member.Sessions: closeIdle says what each check
// closed and left; the first CutAll cuts cutAll, the next ones find
// stillThere in turn (a KILL CONNECTION that did not end a session yet),
// then none.
type fakeSessions struct {
	closeIdle  func() (closed, left int)
	cutAll     int
	stillThere []int
	cuts       atomic.Int64
	drained    atomic.Int64
}

func (f *fakeSessions) CloseIdle(context.Context) (int, int, error) {
	c, l := f.closeIdle()
	return c, l, nil
}

func (f *fakeSessions) CutAll(context.Context) (int, error) {
	n := f.cuts.Add(1)
	if n == 1 {
		return f.cutAll, nil
	}
	if i := int(n) - 2; i < len(f.stillThere) {
		return f.stillThere[i], nil
	}
	return 0, nil
}

// events records the journal.
type events struct {
	mu  sync.Mutex
	all []journal.Event
}

func (e *events) add(ev journal.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) of(kind string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		if ev.Kind == kind {
			out = append(out, ev.Reason)
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func start(r *Rig) (<-chan error, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	return errc, cancel
}

func result(t *testing.T, errc <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %s", within)
	}
	return nil
}

// Lifecycle runs the lifecycle tests against a mode.
func Lifecycle(t *testing.T, newRig NewRig) {
	t.Run("retry with a doubling pause, exit before settled tried again", func(t *testing.T) {
		ev := &events{}
		r := newRig(t, member.Config{RetryMin: 50 * time.Millisecond, Events: ev.add})
		// The first two starts exit at once, before the node answers;
		// the third runs until it is told to stop.
		marker := filepath.Join(t.TempDir(), "tries")
		r.Shell.SetScript(`echo x >> ` + marker + `; [ $(wc -l < ` + marker + `) -ge 3 ] || exit 1; ` + UntilTerm)
		r.Node.SetDown(func() bool {
			b, _ := os.ReadFile(marker)
			return strings.Count(string(b), "\n") < 3
		})
		errc, cancel := start(r)
		defer cancel()
		waitFor(t, "running on the third try", func() bool { return r.Shell.Starts() >= 3 && !r.Node.Down() && r.Running() })
		select {
		case err := <-errc:
			t.Fatalf("Run returned while retrying: %v", err)
		default:
		}
		retries := ev.of(journal.KindRetry)
		if len(retries) < 2 || !strings.Contains(retries[0], "in 50ms (try 1)") || !strings.Contains(retries[1], "in 100ms (try 2)") {
			t.Errorf("retries %q: want two, the pause doubling from 50ms", retries)
		}
		if n := r.Shell.Starts(); n < 3 {
			t.Errorf("%d starts, want at least 3", n)
		}
		cancel()
		if err := result(t, errc, 15*time.Second); err != nil {
			t.Fatalf("Run after a clean stop: %v", err)
		}
		if !r.Stopping() {
			t.Error("the poller was not told the member stops")
		}
	})

	t.Run("exit after settled ends Run with mariadbd's code", func(t *testing.T) {
		r := newRig(t, member.Config{})
		flag := filepath.Join(t.TempDir(), "exit")
		r.Shell.SetScript(`while [ ! -e ` + flag + ` ]; do sleep 0.02; done; exit 3`)
		errc, cancel := start(r)
		defer cancel()
		waitFor(t, "running", r.Running)
		if err := os.WriteFile(flag, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		err := result(t, errc, 15*time.Second)
		if e, ok := errors.AsType[*member.ExitError](err); !ok || e.Code != 3 {
			t.Fatalf("Run: %v, want an ExitError with code 3", err)
		}
		if n := r.Shell.Starts(); n != 1 {
			t.Errorf("%d starts, want 1: a crash after the node settled is the orchestrator's", n)
		}
	})

	t.Run("drain with writer handover", func(t *testing.T) {
		const window = 400 * time.Millisecond
		var until atomic.Pointer[time.Time]
		ev := &events{}
		r := newRig(t, member.Config{DrainDelay: 50 * time.Millisecond, DrainTimeout: time.Minute, Events: ev.add,
			WriterUntil: func() time.Time {
				if u := until.Load(); u != nil {
					return *u
				}
				return time.Time{}
			}})
		errc, cancel := start(r)
		defer cancel()
		waitFor(t, "running", r.Running)
		u := time.Now().Add(window)
		until.Store(&u)
		begin := time.Now()
		cancel()
		if err := result(t, errc, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(begin); took < window {
			t.Errorf("stopped %v after the cancellation: the drain delay must be extended by the handover window (%v)", took, window)
		}
		drains := ev.of(journal.KindDrain)
		if len(drains) != 2 || !strings.HasPrefix(drains[0], "began") || !strings.HasPrefix(drains[1], "ended") || !strings.Contains(drains[1], "0 client connections") {
			t.Errorf("drain events %q: want began, then ended with 0 client connections", drains)
		}
	})

	t.Run("drain ends at once without connections", func(t *testing.T) {
		r := newRig(t, member.Config{DrainTimeout: time.Minute})
		errc, cancel := start(r)
		defer cancel()
		waitFor(t, "running", r.Running)
		begin := time.Now()
		cancel()
		if err := result(t, errc, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(begin); took > 10*time.Second {
			t.Errorf("stopped %v after the cancellation without connections", took)
		}
	})

	t.Run("drain waits for connections, a second signal cuts it", func(t *testing.T) {
		for _, hurry := range []bool{false, true} {
			r := newRig(t, member.Config{DrainDelay: 20 * time.Millisecond, DrainTimeout: time.Minute})
			r.Node.SetConns(2) // one client besides the sentinel
			errc, cancel := start(r)
			waitFor(t, "running", r.Running)
			cancel()
			select {
			case err := <-errc:
				t.Fatalf("hurry=%v: stopped with a client connected: %v", hurry, err)
			case <-time.After(300 * time.Millisecond):
			}
			if hurry {
				r.Hurry <- os.Interrupt
			} else {
				r.Node.SetConns(1)
			}
			if err := result(t, errc, 15*time.Second); err != nil {
				t.Fatalf("hurry=%v: %v", hurry, err)
			}
		}
	})

	t.Run("drain closes sessions between transactions, cuts the rest", func(t *testing.T) {
		// Idle clients: each check closes one, and the drain ends
		// without waiting for the timeout.
		ev := &events{}
		var r *Rig
		fs := &fakeSessions{}
		r = newRig(t, member.Config{DrainDelay: 20 * time.Millisecond, DrainTimeout: time.Minute, Sessions: fs, Events: ev.add,
			Drained: func(closed, cut int, _ time.Duration) { fs.drained.Store(int64(closed*100 + cut)) }})
		fs.closeIdle = func() (int, int) {
			if n := r.Node.Conns() - 1; n > 0 {
				r.Node.SetConns(n) // one closed
				return 1, n - 1
			}
			return 0, 0
		}
		r.Node.SetConns(3) // two clients besides the sentinel
		errc, cancel := start(r)
		waitFor(t, "running", r.Running)
		begin := time.Now()
		cancel()
		if err := result(t, errc, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(begin); took > 10*time.Second {
			t.Errorf("the drain took %v to close two idle sessions", took)
		}
		drains := ev.of(journal.KindDrain)
		if len(drains) != 2 || !strings.Contains(drains[1], "2 client sessions closed between transactions, 0 cut") {
			t.Errorf("drain events %q: want the end with 2 closed, 0 cut", drains)
		}
		if got := fs.drained.Load(); got != 200 {
			t.Errorf("Drained told %d closed and %d cut, want 2 and 0", got/100, got%100)
		}

		// Busy clients: nothing is between transactions; at the drain
		// timeout the rest is cut before mariadbd stops, and looked for
		// again until none is left (one outlived its first KILL).
		ev = &events{}
		fs = &fakeSessions{closeIdle: func() (int, int) { return 0, 2 }, cutAll: 2, stillThere: []int{1}}
		r = newRig(t, member.Config{DrainDelay: 20 * time.Millisecond, DrainTimeout: 300 * time.Millisecond, Sessions: fs, Events: ev.add})
		r.Node.SetConns(3)
		errc, cancel = start(r)
		waitFor(t, "running", r.Running)
		cancel()
		if err := result(t, errc, 15*time.Second); err != nil {
			t.Fatal(err)
		}
		drains = ev.of(journal.KindDrain)
		if len(drains) != 2 || !strings.Contains(drains[1], "0 client sessions closed between transactions, 2 cut") {
			t.Errorf("drain events %q: want the end with 0 closed, 2 cut", drains)
		}
		if fs.cuts.Load() != 3 {
			t.Errorf("CutAll called %d times, want 3: the cut, a session still there, none left", fs.cuts.Load())
		}
	})

	t.Run("stop bounded", func(t *testing.T) {
		r := newRig(t, member.Config{ShutdownTimeout: 300 * time.Millisecond})
		// This "mariadbd" ignores SIGTERM, and says so once it does.
		ignoring := filepath.Join(t.TempDir(), "ignoring")
		r.Shell.SetScript(`trap "" TERM; touch ` + ignoring + `; ` + UntilTerm)
		errc, cancel := start(r)
		defer cancel()
		waitFor(t, "running", func() bool {
			_, err := os.Stat(ignoring)
			return err == nil && r.Running()
		})
		begin := time.Now()
		cancel()
		err := result(t, errc, 15*time.Second)
		if _, ok := errors.AsType[*member.ExitError](err); !ok {
			t.Fatalf("Run: %v, want an ExitError (killed after the shutdown timeout)", err)
		}
		if took := time.Since(begin); took > 10*time.Second {
			t.Errorf("the stop took %v with a 300ms shutdown timeout", took)
		}
	})
}
