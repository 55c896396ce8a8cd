package testkube

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// daemon is one component, run as a plain process with its output in
// logs/NAME.log under the state root. Its command line always names the
// state root, which is how Sweep finds it after a crash.
type daemon struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (c *Cluster) start(name string, args ...string) (*daemon, error) {
	logf, err := os.OpenFile(filepath.Join(c.Root, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.binPath(args[0]), args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	// Own process group: a ^C to the test does not hit the daemons before
	// Stop has put them down in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	c.mu.Lock()
	c.daemons = append(c.daemons, d)
	c.mu.Unlock()
	c.logf("testkube: started %s (pid %d)", name, cmd.Process.Pid)
	return d, nil
}

// binPath is where a daemon's binary is: the ones built here, else $PATH.
func (c *Cluster) binPath(bin string) string {
	if filepath.Base(bin) == bin {
		if p := filepath.Join(c.BinDir, bin); fileExists(p) {
			return p
		} else if p, err := exec.LookPath(bin); err == nil {
			return p
		}
	}
	return bin
}

// forget drops a daemon that is gone for good from the ones waitFor
// watches and Stop stops (a node's, after PowerOff).
func (c *Cluster) forget(d *daemon) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.daemons {
		if x == d {
			c.daemons = append(c.daemons[:i], c.daemons[i+1:]...)
			return
		}
	}
}

// stop sends SIGTERM and waits up to grace, then SIGKILL; a daemon a
// test stopped (SignalDaemon SIGSTOP) is resumed first.
func (d *daemon) stop(grace time.Duration) {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGCONT)
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(grace):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) exited() error {
	select {
	case <-d.done:
		return fmt.Errorf("%s exited: %v", d.name, d.err)
	default:
		return nil
	}
}

// waitFor polls check until it returns nil, every daemon is still
// running, and ctx and timeout allow.
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		c.mu.Lock()
		ds := append([]*daemon(nil), c.daemons...)
		c.mu.Unlock()
		for _, d := range ds {
			if err := d.exited(); err != nil {
				// Its log goes with the cluster's teardown: its last lines
				// travel in the error.
				log := filepath.Join(c.Root, "logs", d.name+".log")
				return fmt.Errorf("waiting for %s: %w (%s, its last lines:\n%s)", what, err, log, lastLines(log, 15))
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// lastLines is the end of a log file, at most n lines of it.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > 64<<10 {
		b = b[len(b)-64<<10:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
