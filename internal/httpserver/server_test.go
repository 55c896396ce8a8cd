package httpserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const token = "0123456789abcdef-peer-token"

// startServer serves a probe-like endpoint with the package's limits.
func startServer(t *testing.T) string {
	t.Helper()
	mux := NewMux(RoutesFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ready") })
	}))
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, mux, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

func TestCheckToken(t *testing.T) {
	for _, bad := range []string{"", "short", "has a space in the middle!!", "0123456789abcdef\n"} {
		if CheckToken(bad) == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if err := CheckToken(token); err != nil {
		t.Fatal(err)
	}
}

// TestAbusiveClients: thousands of idle connections, slowloris headers,
// oversized headers and garbage do not stop a well-behaved probe from
// being answered promptly.
func TestAbusiveClients(t *testing.T) {
	addr := startServer(t)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
		return c
	}
	// 2000 connections that never send a byte.
	for range 2000 {
		dial()
	}
	// 200 slowloris clients: a header line, never finished.
	for range 200 {
		c := dial()
		fmt.Fprintf(c, "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	}
	// Garbage and an oversized header get a 4xx, not a hang or a crash.
	c := dial()
	fmt.Fprintf(c, "\x16\x03\x01\x02\x00garbage\r\n\r\n")
	if line := readStatusLine(t, c); !strings.Contains(line, " 400 ") {
		t.Errorf("garbage request: %q, want 400", line)
	}
	c = dial()
	fmt.Fprintf(c, "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 64<<10))
	if line := readStatusLine(t, c); !strings.Contains(line, " 431 ") {
		t.Errorf("64 KiB header: %q, want 431", line)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	var worst time.Duration
	for range 200 {
		begin := time.Now()
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatalf("well-behaved probe under abuse: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if d := time.Since(begin); d > worst {
			worst = d
		}
	}
	t.Logf("slowest of 200 probes with 2200 abusive connections open: %v", worst)
	if worst > 50*time.Millisecond {
		t.Errorf("slowest probe took %v under abuse, want under 50ms", worst)
	}
	// The slowloris connections are cut after the header timeout.
	slow := conns[2000]
	slow.SetReadDeadline(time.Now().Add(readHeaderTimeout + 3*time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Errorf("slowloris connection not closed by the server: %v", err)
	}
}

func readStatusLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read status line: %v", err)
	}
	return line
}
