package testsentinel

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Sentinel is one galera-sentinel process started by Start.
type Sentinel struct {
	Base string // http://host:port
	Log  string // its standard output and error
	cmd  *exec.Cmd
	done chan struct{}
}

// FreePort is an address at 127.0.0.1 nothing listens on now.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs the binary with args and extra environment (KEY=value) until
// the test ends, and returns once it answers /livez at addr (the address
// its --listen names). Its log is printed when the test failed.
func Start(t testing.TB, name, addr string, args, env []string) *Sentinel {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+"-sentinel.log")
	out, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary(t), args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	s := &Sentinel{Base: "http://" + addr, Log: log, cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s sentinel log (last lines):\n%s", name, TailFile(log, 40))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := TryProbe(s.Base + "/livez"); err == nil {
			return s
		}
		select {
		case <-s.done:
			b, _ := os.ReadFile(log)
			t.Fatalf("%s sentinel exited: %s", name, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sentinel not listening on %s", name, addr)
		}
	}
}

// Stop sends SIGTERM and waits up to 10 s for the exit, then kills; it is
// idempotent.
func (s *Sentinel) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Done is closed when the process has exited.
func (s *Sentinel) Done() <-chan struct{} { return s.done }

// ExitCode is the process's exit code; call it after Done.
func (s *Sentinel) ExitCode() int { return s.cmd.ProcessState.ExitCode() }

// Pid is the process id.
func (s *Sentinel) Pid() int { return s.cmd.Process.Pid }
