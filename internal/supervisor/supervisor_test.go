package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T, r *Reaper, script string) *Process {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p, err := r.Start("sh", cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Signal(syscall.SIGKILL); <-p.Done() })
	return p
}

// trapFile is where a script says its trap is installed: a signal sent
// before would meet the shell's default action instead.
func trapFile(t *testing.T) string { return filepath.Join(t.TempDir(), "trapped") }

// waitFile waits until the script of p has created path.
func waitFile(t *testing.T, p *Process, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-p.Done():
			t.Fatalf("the script ended before installing its trap: %s", p.Describe())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script did not install its trap in 10s")
		}
	}
}

func TestExitCodes(t *testing.T) {
	r := NewReaper(false, nil)
	for script, want := range map[string]int{"exit 0": 0, "exit 3": 3, "kill -9 $$": 137, "kill -TERM $$": 143} {
		p := start(t, r, script)
		<-p.Done()
		if got := p.ExitCode(); got != want {
			t.Errorf("%q: exit code %d (%s), want %d", script, got, p.Describe(), want)
		}
	}
}

// TestStop: SIGTERM is what the process gets, and it is given the time to
// act on it.
func TestStop(t *testing.T) {
	r := NewReaper(false, nil)
	ready := trapFile(t)
	p := start(t, r, `trap 'sleep 0.3; exit 7' TERM; touch '`+ready+`'; while :; do sleep 0.05; done`)
	waitFile(t, p, ready) // the trap is installed
	if err := p.Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := p.ExitCode(); got != 7 {
		t.Fatalf("exit code %d (%s), want 7 from the TERM trap", got, p.Describe())
	}
}

func TestStopKillsOnlyAfterTimeout(t *testing.T) {
	r := NewReaper(false, nil)
	ready := trapFile(t)
	p := start(t, r, `trap '' TERM; touch '`+ready+`'; while :; do sleep 0.05; done`)
	waitFile(t, p, ready)
	begin := time.Now()
	err := p.Stop(300 * time.Millisecond)
	if !errors.Is(err, ErrKilled) {
		t.Fatalf("Stop: %v, want ErrKilled", err)
	}
	if d := time.Since(begin); d < 300*time.Millisecond {
		t.Fatalf("killed after %v, before the timeout", d)
	}
	if got := p.ExitCode(); got != 137 {
		t.Fatalf("exit code %d", got)
	}
}

// TestStopWatched: a process that ignores SIGTERM is killed as soon as
// stuck says its shutdown will never end, with the reason in the error;
// while stuck says no, it has until the timeout; a process that exits is
// never killed.
func TestStopWatched(t *testing.T) {
	r := NewReaper(false, nil)
	ready := trapFile(t)
	p := start(t, r, `trap '' TERM; touch '`+ready+`'; while :; do sleep 0.05; done`)
	waitFile(t, p, ready)
	begin := time.Now()
	asked := 0
	err := p.StopWatched(time.Minute, func(now time.Time) (string, bool) {
		asked++
		return "the provider is stuck", asked >= 2
	})
	if !errors.Is(err, ErrKilled) || !strings.Contains(err.Error(), "the provider is stuck") {
		t.Fatalf("StopWatched: %v, want ErrKilled with the reason", err)
	}
	if d := time.Since(begin); d > 10*time.Second || asked != 2 {
		t.Fatalf("killed after %v and %d questions, want at the second", d, asked)
	}
	if got := p.ExitCode(); got != 137 {
		t.Fatalf("exit code %d", got)
	}

	ready = trapFile(t)
	p = start(t, r, `trap 'sleep 1.5; exit 3' TERM; touch '`+ready+`'; while :; do sleep 0.05; done`)
	waitFile(t, p, ready)
	if err := p.StopWatched(time.Minute, func(time.Time) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	if got := p.ExitCode(); got != 3 {
		t.Fatalf("exit code %d (%s), want 3 from the TERM trap", got, p.Describe())
	}
}

// TestCancelledContextDoesNotKill: ending a context only ends the wait.
func TestCancelledContextDoesNotKill(t *testing.T) {
	r := NewReaper(false, nil)
	p := start(t, r, `sleep 30`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := syscall.Kill(p.Pid, 0); err != nil {
		t.Fatalf("the process is gone after a cancelled context: %v", err)
	}
	select {
	case <-p.Done():
		t.Fatal("done after a cancelled context")
	default:
	}
}

func TestStartRejects(t *testing.T) {
	r := NewReaper(false, nil)
	var b strings.Builder
	cmd := exec.Command("/bin/true")
	cmd.Stdout = &b
	if _, err := r.Start("true", cmd); err == nil {
		t.Error("accepted a non-file stdout")
	}
	if _, err := r.Start("ctx", exec.CommandContext(context.Background(), "/bin/true")); err == nil {
		t.Error("accepted a CommandContext")
	}
	if _, err := r.Start("missing", exec.Command("/nonexistent/mariadbd")); err == nil {
		t.Error("started a missing binary")
	}
}

// TestPID1ReapsOrphans runs this test binary as PID 1 of a new PID
// namespace. The child it supervises leaves two orphans behind, which the
// kernel re-parents to PID 1. With the "all" reaper none is left a zombie;
// without it both are, which shows the check can fail.
func TestPID1ReapsOrphans(t *testing.T) {
	if os.Getenv("SUPERVISOR_PID1_HELPER") != "" {
		pid1Helper()
		return
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root for a PID namespace")
		}
		t.Skip("needs root for a PID namespace")
	}
	for _, all := range []bool{true, false} {
		cmd := exec.Command("unshare", "--pid", "--fork", "--mount", "--mount-proc", os.Args[0], "-test.run=^TestPID1ReapsOrphans$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("SUPERVISOR_PID1_HELPER=%v", all))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper (all=%v): %v\n%s", all, err, out)
		}
		zombies := strings.Contains(string(out), "zombies: 2")
		none := strings.Contains(string(out), "zombies: 0")
		if all && !none {
			t.Errorf("as PID 1 with the reaper, orphans were left zombies:\n%s", out)
		}
		if !all && !zombies {
			t.Errorf("without the reaper the orphans should stay zombies (else the check proves nothing):\n%s", out)
		}
	}
}

func pid1Helper() {
	if os.Getpid() != 1 {
		fmt.Println("not PID 1")
		os.Exit(1)
	}
	all := os.Getenv("SUPERVISOR_PID1_HELPER") == "true"
	r := NewReaper(all, nil)
	p, err := r.Start("sh", exec.Command("/bin/sh", "-c", "sleep 0.2 & sleep 0.3 & exit 5"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	<-p.Done()
	if p.ExitCode() != 5 {
		fmt.Println("exit code", p.ExitCode())
		os.Exit(1)
	}
	time.Sleep(1500 * time.Millisecond)
	fmt.Printf("zombies: %d\n", countZombies())
	os.Exit(0)
}

func countZombies() int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 && s[i+2] == 'Z' {
			n++
		}
	}
	return n
}
