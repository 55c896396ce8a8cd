package mariadbd

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEndStaleSSTHelpers: a joiner killed with SIGKILL leaves its rsync
// daemon running, and the next joiner's script gives up on it ("rsync
// daemon still running...") at every try. The helpers named in the data
// directory's pid files are ended before mariadbd starts again; a pid
// that belongs to something else is left alone.
func TestEndStaleSSTHelpers(t *testing.T) {
	dir := t.TempDir()
	start := func(args ...string) *exec.Cmd {
		t.Helper()
		// bash -c 'sleep; true' keeps bash itself, with these words in
		// its command line, as the process.
		cmd := exec.Command("bash", append([]string{"-c", "sleep 300; true"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
		})
		// Until the child has exec'd, its command line is this test's:
		// a sweep then rightly takes it for another process (seen on a
		// loaded CI machine).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
			if strings.Contains(string(b), args[0]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the helper %q did not start in 10s: %q", args[0], b)
			}
		}
		return cmd
	}
	rsync := start("rsync", "--daemon", "--no-detach", "--config", filepath.Join(dir, "rsync_sst.conf"))
	other := start("rsync", "--config", "/elsewhere/rsync_sst.conf") // not this data directory's
	write := func(name string, pid int) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rsync_sst.pid", rsync.Process.Pid)
	write("stunnel.pid", other.Process.Pid)

	r := NewRunner(Config{DataDir: dir}, nil, slog.New(slog.DiscardHandler), nil)
	r.endStaleSST()

	gone := func(c *exec.Cmd) bool {
		// Ended, and reaped by start's waiter.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Process.Pid) + "/stat")
			if err != nil || len(b) == 0 {
				return true
			}
		}
		return false
	}
	if !gone(rsync) {
		t.Errorf("the stale rsync daemon (pid %d) still runs", rsync.Process.Pid)
	}
	if _, err := os.ReadFile("/proc/" + strconv.Itoa(other.Process.Pid) + "/cmdline"); err != nil {
		t.Errorf("a process of another data directory (pid %d) was ended", other.Process.Pid)
	}
	// Its pid file named a process that is not this directory's helper
	// (a wrapped process id): the scripts would wait on it, so it is
	// emptied, and kept (rsync_sst.pid's presence marks an interrupted
	// transfer).
	for _, name := range []string{"stunnel.pid", "rsync_sst.pid"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || len(b) != 0 {
			t.Errorf("%s after the sweep: %q, %v (want it there and empty)", name, b, err)
		}
	}
	// A pid file that names a process of no helper at all (this test's
	// own process stands for a wrapped id) is emptied too.
	write("wsrep_sst.pid", os.Getpid())
	r.endStaleSST()
	if b, err := os.ReadFile(filepath.Join(dir, "wsrep_sst.pid")); err != nil || len(b) != 0 {
		t.Errorf("wsrep_sst.pid naming pid %d (not a helper): %q, %v after the sweep (want it empty)", os.Getpid(), b, err)
	}
}

// TestSweepRunningSST: while mariadbd runs, a pid file naming another
// process is emptied; a helper of this data directory is ended only once
// it has run StaleHelperAge past a moment the node was Synced (an orphan
// of an earlier transfer), never before.
func TestSweepRunningSST(t *testing.T) {
	dir := t.TempDir()
	start := func(args ...string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command("bash", append([]string{"-c", "sleep 300; true"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-done
		})
		// Until the child has exec'd, its command line is this test's:
		// a sweep then rightly takes it for another process (seen on a
		// loaded CI machine).
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
			if strings.Contains(string(b), args[0]) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the helper %q did not start in 10s: %q", args[0], b)
			}
		}
		return cmd
	}
	write := func(name string, pid int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	content := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}
	alive := func(c *exec.Cmd) bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Process.Pid) + "/stat")
		return err == nil && !strings.Contains(string(b), ") Z ")
	}
	script := start("wsrep_sst_rsync", "--role", "donor", "--datadir", dir+"/")
	r := NewRunner(Config{DataDir: dir}, nil, slog.New(slog.DiscardHandler), nil)

	// Another process's id in the file: emptied, the process untouched.
	write("wsrep_sst.pid", os.Getpid())
	r.SweepRunningSST(false)
	if got := content("wsrep_sst.pid"); got != "" {
		t.Errorf("wsrep_sst.pid naming another process: %q after the sweep, want it empty", got)
	}

	// The helper: never seen on a Synced node, left alone.
	write("wsrep_sst.pid", script.Process.Pid)
	r.SweepRunningSST(false)
	if !alive(script) || content("wsrep_sst.pid") == "" {
		t.Fatal("a helper never seen on a Synced node was ended")
	}
	// Seen on a Synced node: only noted.
	r.SweepRunningSST(true)
	if !alive(script) || len(r.syncedHelpers) != 1 {
		t.Fatalf("a helper seen once on a Synced node: alive %v, noted %v", alive(script), r.syncedHelpers)
	}
	// Still running StaleHelperAge after that, whatever the node does
	// now (a donor again for the next joiner): ended, its file emptied.
	for k := range r.syncedHelpers {
		r.syncedHelpers[k] = time.Now().Add(-StaleHelperAge - time.Second)
	}
	r.SweepRunningSST(false)
	for deadline := time.Now().Add(5 * time.Second); alive(script) && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
	}
	if alive(script) {
		t.Error("a stale helper still runs")
	}
	if got := content("wsrep_sst.pid"); got != "" {
		t.Errorf("wsrep_sst.pid of the ended helper: %q, want it empty", got)
	}
	if len(r.syncedHelpers) != 0 {
		t.Errorf("the ended helper is still noted: %v", r.syncedHelpers)
	}
}
