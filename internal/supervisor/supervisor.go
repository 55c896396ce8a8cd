// Package supervisor starts mariadbd (and the helpers run before it),
// forwards signals to it, stops it without ever killing it because a
// context ended, and reaps what it leaves behind. When the sentinel is PID 1
// in a container it also reaps orphans re-parented to it, so no zombie
// piles up.
//
// It must not decide what runs or when (packages member and mariadbd do),
// and it never sends SIGKILL except when a stop outlives its timeout.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper waits for child processes. In "all" mode (PID 1) it reaps every
// child, its own and orphans, on SIGCHLD; otherwise it waits for each
// started process alone and leaves other children to whoever owns them.
type Reaper struct {
	all bool
	log *slog.Logger

	mu      sync.Mutex
	waiters map[int]*Process
	stop    func()
}

// NewReaper returns a reaper. all should be true when the sentinel is PID 1.
func NewReaper(all bool, log *slog.Logger) *Reaper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reaper{all: all, log: log, waiters: map[int]*Process{}}
	if all {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGCHLD)
		done := make(chan struct{})
		r.stop = func() { signal.Stop(ch); close(done) }
		go func() {
			t := time.NewTicker(time.Second) // SIGCHLDs coalesce; poll as a safety net
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-ch:
				case <-t.C:
				}
				r.reapAll()
			}
		}()
	}
	return r
}

// Close stops reaping orphans.
func (r *Reaper) Close() {
	if r.stop != nil {
		r.stop()
	}
}

func (r *Reaper) reapAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		if p, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			p.finish(ws)
		} else {
			r.log.Debug("reaped an orphan", "pid", pid, "status", describe(ws))
		}
	}
}

// Process is a started child.
type Process struct {
	Name string
	Pid  int

	mu     sync.Mutex
	proc   *os.Process
	done   chan struct{}
	status unix.WaitStatus
}

// Start starts cmd. Its Stdout and Stderr must be nil or *os.File: the
// reaper, not exec.Cmd.Wait, collects the exit status, so nothing may
// depend on Wait. cmd must not have been built with CommandContext: a
// cancelled context must never kill mariadbd.
func (r *Reaper) Start(name string, cmd *exec.Cmd) (*Process, error) {
	for _, w := range []any{cmd.Stdout, cmd.Stderr} {
		if _, ok := w.(*os.File); w != nil && !ok {
			return nil, fmt.Errorf("%s: output must go to a file", name)
		}
	}
	if cmd.Cancel != nil {
		return nil, fmt.Errorf("%s: built with CommandContext", name)
	}
	r.mu.Lock() // a reapAll between fork and registration must not steal it
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Pid: cmd.Process.Pid, proc: cmd.Process, done: make(chan struct{})}
	if r.all {
		r.waiters[p.Pid] = p
		r.mu.Unlock()
		r.reapAll() // it may have exited before we listened
	} else {
		r.mu.Unlock()
		go func() {
			var ws unix.WaitStatus
			for {
				_, err := unix.Wait4(p.Pid, &ws, 0, nil)
				if !errors.Is(err, unix.EINTR) {
					break
				}
			}
			p.finish(ws)
		}()
	}
	return p, nil
}

func (p *Process) finish(ws unix.WaitStatus) {
	p.mu.Lock()
	p.status = ws
	p.proc.Release()
	p.proc = nil
	p.mu.Unlock()
	close(p.done)
}

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Signal sends sig unless the process is already gone.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc == nil {
		return os.ErrProcessDone
	}
	return p.proc.Signal(sig)
}

// ExitCode is the shell's view of the exit: the status, or 128+signal.
// Only valid after Done.
func (p *Process) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return exitCode(p.status)
}

// Describe says how the process ended. Only valid after Done.
func (p *Process) Describe() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return describe(p.status)
}

func exitCode(ws unix.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 1
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("signal %d: %s", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}

// Wait waits for the process to end or ctx to end, whichever is first.
// Ending ctx does nothing to the process.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrKilled is returned by Stop when the process had to be killed.
var ErrKilled = errors.New("did not stop in time; killed")

// Stop sends SIGTERM and waits up to timeout for the process to exit. Only
// past the timeout, and with an error the caller must log, is it killed:
// a database killed mid-shutdown has to recover on its next start.
func (p *Process) Stop(timeout time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	_ = p.Signal(syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s (pid %d) %w after %s", p.Name, p.Pid, ErrKilled, timeout)
}

// StopWatched is Stop that also asks stuck every second: when it says
// the process will never end its shutdown (and why), it is killed then
// rather than at timeout. The error then says why.
func (p *Process) StopWatched(timeout time.Duration, stuck func(now time.Time) (string, bool)) error {
	if stuck == nil {
		return p.Stop(timeout)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-p.done:
			return nil
		case <-t.C:
			_ = p.Signal(syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("%s (pid %d) %w after %s", p.Name, p.Pid, ErrKilled, timeout)
		case now := <-tick.C:
			if why, ok := stuck(now); ok {
				_ = p.Signal(syscall.SIGKILL)
				<-p.done
				return fmt.Errorf("%s (pid %d) %w: %s", p.Name, p.Pid, ErrKilled, why)
			}
		}
	}
}
