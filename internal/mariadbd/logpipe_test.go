package mariadbd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a buffer the logging goroutine and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogLines(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewJSONHandler(&out, nil)).With("component", "mariadbd")
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() { LogLines(pr, log); close(done) }()
	long := strings.Repeat("x", maxLogLine+5000)
	for _, chunk := range []string{
		"2026-11-22 10:00:00 0 [Note] Starting MariaDB", " 10.11\n",
		"2026-11-22 10:00:01 0 [Warning] Could not increase max_open_files\r\n",
		"\n", "2026-11-22 10:00:02 0 [ERROR] WSREP: failed to open gcomm backend \"quoted\" \\ and\ttab\n",
		long + "\n",
		"after the long line\n",
		"WSREP_SST: [INFO] no newline at the end",
	} {
		if _, err := io.WriteString(pw, chunk); err != nil {
			t.Fatal(err)
		}
	}
	pw.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("LogLines did not return at the end of its input")
	}
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not one JSON record per line: %v: %q", err, sc.Text())
		}
		recs = append(recs, r)
	}
	want := []struct{ level, msg string }{
		{"INFO", "2026-11-22 10:00:00 0 [Note] Starting MariaDB 10.11"},
		{"WARN", "2026-11-22 10:00:01 0 [Warning] Could not increase max_open_files"},
		{"ERROR", "2026-11-22 10:00:02 0 [ERROR] WSREP: failed to open gcomm backend \"quoted\" \\ and\ttab"},
		{"INFO", long[:maxLogLine]},
		{"INFO", "after the long line"},
		{"INFO", "WSREP_SST: [INFO] no newline at the end"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(want), out.String())
	}
	for i, w := range want {
		if recs[i]["level"] != w.level || recs[i]["msg"] != w.msg || recs[i]["component"] != "mariadbd" {
			t.Errorf("record %d: %v %q, want %s %q", i, recs[i]["level"], recs[i]["msg"], w.level, w.msg)
		}
	}
	if recs[3]["truncated"] != true {
		t.Errorf("the cut line is not marked: %v", recs[3])
	}
}
