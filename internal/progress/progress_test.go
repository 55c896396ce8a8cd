package progress

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWalk sums the regular files under a real directory, leaves Galera's
// write-set cache out, and fails for a directory that is not there.
func TestWalk(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "mysql"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "ibdata1"), make([]byte, 1000), 0o644))
	must(os.WriteFile(filepath.Join(dir, "mysql", "user.MAD"), make([]byte, 24), 0o644))
	must(os.WriteFile(filepath.Join(dir, "galera.cache"), make([]byte, 5000), 0o644))
	must(os.WriteFile(filepath.Join(dir, "gcache.page.000001"), make([]byte, 5000), 0o644))
	u, err := Walk(dir)
	if err != nil || u != (DirUsage{Files: 2, Bytes: 1024}) {
		t.Fatalf("Walk = %+v, %v", u, err)
	}
	if s := u.String(); s != "data directory 2 files, 1.0 KiB" {
		t.Errorf("String = %q", s)
	}
	if _, err := Walk(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory walked")
	}
}

// TestDirWatcher reports a change of the directory, not a directory that
// stands still, and walks only while Active. It waits on the watcher's own
// rounds, never on the clock: the watcher asks Active at the start of
// every round, so once it has asked twice after a change, a whole walk
// that began after the change has been reported.
func TestDirWatcher(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var got []string
	active, asked := true, 0
	var logs bytes.Buffer
	w := &DirWatcher{Dir: dir, Every: time.Millisecond, MinBytes: 1000,
		Active:     func() bool { mu.Lock(); defer mu.Unlock(); asked++; return active },
		Progressed: func(what string) { mu.Lock(); got = append(got, what); mu.Unlock() },
		Logger:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	// rounds waits until the watcher has finished n more rounds that
	// began after the call.
	rounds := func(n int) {
		t.Helper()
		mu.Lock()
		want := asked + n + 1
		mu.Unlock()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			a := asked
			mu.Unlock()
			if a >= want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the watcher did %d of %d rounds in 10s", a-(want-n-1), n)
			}
		}
	}
	rounds(3)
	if n := count(); n != 1 {
		t.Fatalf("%d reports for a directory that stood still (want the first walk only): %q", n, got)
	}
	// The file appears whole (a rename), so no walk sees it empty.
	part, staged := filepath.Join(dir, "sst.part"), filepath.Join(t.TempDir(), "sst.part")
	if err := os.WriteFile(staged, make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staged, part); err != nil {
		t.Fatal(err)
	}
	rounds(1)
	if n := count(); n != 2 || got[1] != "data directory 1 files, 2.0 KiB" {
		t.Fatalf("after a new file: %q", got)
	}
	// Appends below MinBytes are not progress, until they add up to it.
	f, err := os.OpenFile(part, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 3 {
		if _, err := f.Write(make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
		rounds(1)
	}
	if n := count(); n != 2 {
		t.Fatalf("900 bytes appended counted as progress: %q", got)
	}
	if _, err := f.Write(make([]byte, 200)); err != nil {
		t.Fatal(err)
	}
	rounds(1)
	if n := count(); n != 3 || got[2] != "data directory 1 files, 3.1 KiB" {
		t.Fatalf("after appends that add up to MinBytes: %q", got)
	}
	mu.Lock()
	active = false
	mu.Unlock()
	// A round that asked before the switch may still be walking; once the
	// watcher has asked again, that round is over and none walks again.
	rounds(1)
	if err := os.WriteFile(filepath.Join(dir, "more"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rounds(3)
	cancel()
	<-done
	if n := count(); n != 3 {
		t.Fatalf("walked while inactive: %q", got)
	}
	if !strings.Contains(logs.String(), "data directory walked") || !strings.Contains(logs.String(), "took=") {
		t.Errorf("no debug line with the walk's duration:\n%s", logs.String())
	}
}

// TestLines counts every record, also those its handler's level drops.
func TestLines(t *testing.T) {
	var buf bytes.Buffer
	n := 0
	log := slog.New(Lines(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}), func() { n++ })).With("stream", "output")
	log.Info("InnoDB: 128 rollback segments are active.")
	log.Warn("WSREP: SST still running")
	if n != 2 {
		t.Errorf("counted %d lines, want 2", n)
	}
	if s := buf.String(); strings.Contains(s, "rollback") || !strings.Contains(s, "SST still running") || !strings.Contains(s, "stream=output") {
		t.Errorf("handler output:\n%s", s)
	}
}
