package member_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/member/membertest"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// stepDownMode starts the shell once, and its Watch says step-down as
// soon as it is asked; later starts wait for the end.
type stepDownMode struct {
	shell  *membertest.Shell
	starts atomic.Int32
}

func (m *stepDownMode) Start(ctx context.Context) (*supervisor.Process, error) {
	if m.starts.Add(1) > 1 {
		<-ctx.Done()
		return nil, nil
	}
	return m.shell.Start()
}

func (m *stepDownMode) Watch(context.Context, *supervisor.Process, time.Time) (bool, member.Decision) {
	return true, member.Decision{Action: member.StepDown, Reason: "every other member waits for this one"}
}

func (m *stepDownMode) Enter(member.Phase, member.Decision) {}

// settledPoller says the node settled at the moment it is asked (settled)
// or never did.
type settledPoller struct{ settled bool }

func (p *settledPoller) SetHold(string) {}
func (p *settledPoller) SetStopping()   {}
func (p *settledPoller) Kick()          {}
func (p *settledPoller) Snapshot() *health.Snapshot[int] {
	s := &health.Snapshot[int]{}
	if p.settled {
		s.EverSettled, s.SettledAt = true, time.Now()
	}
	return s
}

// TestRestartOfUnsettledBounded: a step-down of a mariadbd that never
// settled since it started (a joiner waiting for its state transfer,
// which does not act on SIGTERM) is bounded by UnsettledStopTimeout, not
// the long ShutdownTimeout, and the member tries again; a settled one
// that does not stop in time ends Run as before.
func TestRestartOfUnsettledBounded(t *testing.T) {
	for _, settled := range []bool{false, true} {
		shell := membertest.NewShell(t)
		ignoring := filepath.Join(t.TempDir(), "ignoring")
		shell.SetScript(`trap "" TERM; touch ` + ignoring + `; ` + membertest.UntilTerm)
		mode := &stepDownMode{shell: shell}
		var mu sync.Mutex
		var retries []string
		cfg := member.Config{ShutdownTimeout: time.Hour, UnsettledStopTimeout: 300 * time.Millisecond, WatchEvery: 20 * time.Millisecond,
			RetryMin: 10 * time.Millisecond, Settled: "Synced", Events: func(e journal.Event) {
				if e.Kind == journal.KindRetry {
					mu.Lock()
					retries = append(retries, e.Reason)
					mu.Unlock()
				}
			}}
		if settled {
			cfg.ShutdownTimeout = 300 * time.Millisecond
		}
		m := member.New(cfg, mode, &settledPoller{settled: settled}, func(int) int { return 0 }, nil, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- m.Run(ctx) }()

		if settled {
			select {
			case err := <-errc:
				if _, ok := errors.AsType[*member.ExitError](err); !ok {
					t.Errorf("settled: Run: %v, want an ExitError (did not stop within the shutdown timeout)", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("settled: Run did not return")
			}
			cancel()
			continue
		}
		for deadline := time.Now().Add(15 * time.Second); mode.starts.Load() < 2; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("unsettled: no second try after the step-down")
			}
			select {
			case err := <-errc:
				t.Fatalf("unsettled: Run returned instead of trying again: %v", err)
			default:
			}
		}
		if _, err := os.Stat(ignoring); err != nil {
			t.Errorf("the fake mariadbd never ignored SIGTERM: %v", err)
		}
		mu.Lock()
		got := strings.Join(retries, "\n")
		mu.Unlock()
		if !strings.Contains(got, "was not yet Synced and was killed after 300ms") {
			t.Errorf("unsettled: retries %q: want the kill at UnsettledStopTimeout", got)
		}
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("unsettled: Run after cancel: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("unsettled: Run did not return after cancel")
		}
	}
}
