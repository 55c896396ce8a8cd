package notify

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSendAndServe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o666 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	got := make(chan string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, func(m string) { got <- m }, slog.New(slog.DiscardHandler)) }()

	// What mariadbd passes to wsrep_notify_cmd.
	args := []string{"--status", "Synced", "--uuid", "6b7a3d2c-0000-11ee-8000-0123456789ab", "--primary", "yes",
		"--members", "a,b,c", "--index", "0"}
	if err := Send(path, args, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != strings.Join(args, " ") {
			t.Errorf("message %q", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("notification not delivered")
	}

	// A notifier that connects and sends nothing is cut at the deadline
	// and does not block the next one.
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := Send(path, []string{"--status", "Donor"}, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "--status Donor" {
			t.Errorf("second message %q", m)
		}
	case <-time.After(500 * time.Millisecond):
		t.Fatal("a silent notifier delayed the next one")
	}

	// Another sentinel on the same socket is refused.
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second listener: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left behind: %v", err)
	}
	if err := Send(path, args, 200*time.Millisecond); err == nil {
		t.Error("Send succeeded with no sentinel")
	}
}

func TestListenReplacesStaleSocketOnly(t *testing.T) {
	dir := t.TempDir()
	// A socket a dead sentinel left behind.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	ln, err := Listen(stale)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()

	// A regular file is never removed.
	file := filepath.Join(dir, "precious")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "data" {
		t.Errorf("regular file damaged: %q %v", b, err)
	}
}
