package mariadbd

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRestartRequired(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		// Seen in the field (7 members killed with -9 and restarted together).
		{"2026-12-05 21:10:03 2 [ERROR] WSREP: Receiving IST failed, node restart required: IST receiver reported failure: 'IST didn't contain all write sets, expected last: 27 last received: 26' (71)", true},
		{"2026-12-05 21:10:03 2 [ERROR] WSREP: Receiving IST failed, node restart required: IST didn't contain all write sets, expected last: 3 last received: -1", true},
		{"2026-12-05 21:10:03 2 [Warning] WSREP: Failed to JOIN the cluster after SST gcs_join(3a1e0c2b-b2f1-11ef-9b6e-1f0e7b1c2d3e:26) failed: 103 (Software caused connection abort)", false},
		// Galera's other "restart this node" lines (libgalera_smm.so).
		{"2026-12-05 21:10:03 0 [ERROR] WSREP: View callback failed. This is unrecoverable, restart required.", true},
		{"2026-12-05 21:10:03 0 [ERROR] WSREP: State transfer request failed unrecoverably: 107 (Transport endpoint is not connected). Most likely it is due to inability to communicate with the cluster primary component. Restart required.", true},
		// Seen on a node evicted by a peer (evs.evict): it stays up, Initialized.
		{"2026-12-05 22:43:24 0 [ERROR] WSREP: exception from gcomm, backend must be restarted: this node has been evicted out of the cluster, gcomm backend restart is required (FATAL)", true},
		{"2026-12-05 21:10:03 0 [Warning] WSREP: this node has been evicted out of the cluster, gcomm backend restart is required", true},
		{"2026-12-05 21:10:03 0 [ERROR] WSREP: Slave queue grew too long while trying to request state transfer 3 time(s). Please make sure that there is at least one fully synced member in the group. Application must be restarted.", true},

		// Normal progress of a joiner and of a donor.
		{"2026-12-05 21:10:01 0 [Note] WSREP: Receiving IST: 26 writesets, seqnos 1-26", false},
		{"2026-12-05 21:10:02 0 [Note] WSREP: IST received: 3a1e0c2b-b2f1-11ef-9b6e-1f0e7b1c2d3e:26", false},
		{"2026-12-05 21:10:02 0 [Note] WSREP: 1.0 (m2): State transfer from 0.0 (m1) complete.", false},
		{"2026-12-05 21:10:02 0 [Note] WSREP: SST received: 3a1e0c2b-b2f1-11ef-9b6e-1f0e7b1c2d3e:26", false},
		{"2026-12-05 21:10:02 0 [Note] WSREP: Shifting JOINER -> JOINED (TO: 29)", false},
		{"2026-12-05 21:10:02 0 [Note] WSREP: Member 1.0 (m2) synced with group.", false},
		{"2026-12-05 21:10:02 0 [Note] WSREP: Requesting state transfer: success, donor: 0", false},
		// A donor speaks of another node: this one is fine.
		{"2026-12-05 21:10:02 0 [Warning] WSREP: Rejecting State Transfer Request in state 'JOINER'. Joiner should be restarted.", false},
		// Not Galera: the SST script, and the server's own words.
		{"WSREP_SST: [ERROR] Possible timeout in receiving first data from donor in gtid stage: restart required (20251205 21:10:02.123)", false},
		{"2026-12-05 21:10:02 0 [Note] Transaction rolled back and must be restarted", false},
		{"", false},
	} {
		if got := RestartRequired(c.line); got != c.want {
			t.Errorf("RestartRequired(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

// TestLogLinesRestart: the output reader tells the runner every line,
// and the runner's hook gets the lines in which Galera says the node must
// be restarted, and only those, while every line is still logged.
func TestLogLinesRestart(t *testing.T) {
	var out lockedBuffer
	var told []string
	r := &Runner{restart: func(l string) { told = append(told, l) }}
	in := "2026-12-05 21:10:01 0 [Note] WSREP: Receiving IST: 26 writesets, seqnos 1-26\n" +
		"2026-12-05 21:10:03 2 [ERROR] WSREP: Receiving IST failed, node restart required: IST receiver reported failure: 'IST didn't contain all write sets, expected last: 27 last received: 26' (71)\r\n" +
		"2026-12-05 21:10:03 2 [ERROR] WSREP: ./gcs/src/gcs.cpp:s_join():988: Sending JOIN failed: -103 (Connection was closed).\n"
	logLines(strings.NewReader(in), slog.New(slog.NewTextHandler(&out, nil)), r.notice)
	if len(told) != 1 || !strings.HasSuffix(told[0], "(71)") {
		t.Errorf("told %q, want the IST failure alone, without its CR", told)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("%d records, want 3:\n%s", n, out.String())
	}
}

func TestErrorLogPath(t *testing.T) {
	for _, c := range []struct{ v, want string }{
		{"", ""},
		{"/var/log/mysql/error.log", "/var/log/mysql/error.log"},
		{"node1", "/data/node1.err"},
		{"logs/m.log", "/data/logs/m.log"},
	} {
		if got := ErrorLogPath(c.v, "/data"); got != c.want {
			t.Errorf("ErrorLogPath(%q) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestFollowLog: a line already in the error log is not this life's and
// is never reported; lines appended later are, once whole, and a log
// that was truncated is read from its start.
func TestFollowLog(t *testing.T) {
	const old = "2026-12-05 21:00:00 0 [ERROR] WSREP: Receiving IST failed, node restart required: earlier life\n"
	const now = "2026-12-05 21:10:03 2 [ERROR] WSREP: Receiving IST failed, node restart required: this life"
	path := filepath.Join(t.TempDir(), "error.log")
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	told := make(chan string, 4)
	done := make(chan struct{})
	ended := make(chan struct{})
	from := logSize(path)
	go func() {
		followLog(path, from, 5*time.Millisecond, done, func(l string) {
			if RestartRequired(l) {
				told <- l
			}
		})
		close(ended)
	}()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	for _, chunk := range []string{"2026-12-05 21:10:01 0 [Note] WSREP: IST received\n", now[:40], now[40:] + "\r\n"} {
		if _, err := fh.WriteString(chunk); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case l := <-told:
		if l != now {
			t.Fatalf("told %q, want %q", l, now)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("an appended restart line was not reported")
	}
	// Rotated by truncation: the new content is read from its start.
	if err := os.WriteFile(path, []byte(now+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-told:
	case <-time.After(5 * time.Second):
		t.Fatal("a line of a truncated log was not reported")
	}
	close(done)
	<-ended
	if len(told) != 0 {
		t.Errorf("more lines reported: %q", <-told)
	}
}

// TestProviderStuck: a shutdown whose provider closed and then printed
// nothing is stuck after the quiet time; one that goes on printing (the
// provider's destructor, InnoDB's shutdown) never is, nor one whose
// provider never said it closed; a new start forgets.
func TestProviderStuck(t *testing.T) {
	const closed = "2026-12-06 12:04:09 0 [Note] WSREP: dtor state: CLOSED"
	var out lockedBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	for _, tc := range []struct {
		name  string
		lines string
		stuck bool
	}{
		{"silent after the close", "2026-12-06 12:04:08 0 [Note] WSREP: Closing receive queue.\n" + closed + "\n", true},
		{"the destructor goes on", closed + "\n2026-12-06 12:04:09 0 [Note] WSREP: MemPool(TrxHandleSlave): hit ratio: 0.63662, misses: 129, in use: 100, in pool: 29\n", false},
		{"no close", "2026-12-06 12:04:08 0 [Note] WSREP: Closing receive queue.\n", false},
		{"an SST script's line is not Galera's", "WSREP_SST: [INFO] dtor state: CLOSED (20261206 12:04:09.000)\n", false},
	} {
		r := &Runner{}
		logLines(strings.NewReader(tc.lines), log, r.notice)
		if why, got := r.ProviderStuck(time.Now().Add(25*time.Second), 20*time.Second); got != tc.stuck {
			t.Errorf("%s: stuck %v (%q), want %v", tc.name, got, why, tc.stuck)
		}
		if _, got := r.ProviderStuck(time.Now().Add(5*time.Second), 20*time.Second); got {
			t.Errorf("%s: stuck before the quiet time", tc.name)
		}
		r.shutdown.reset()
		if _, got := r.ProviderStuck(time.Now().Add(25*time.Second), 20*time.Second); got {
			t.Errorf("%s: stuck after a new start", tc.name)
		}
	}
	// mariadbd's error log (log_error), read in batches: the closed line
	// and the next one in the same read still count as a shutdown that
	// goes on.
	path := filepath.Join(t.TempDir(), "error.log")
	if err := os.WriteFile(path, []byte(closed+"\n2026-12-06 12:04:09 0 [Note] InnoDB: Starting shutdown...\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Runner{}
	readAppended(path, 0, nil, r.notice)
	if why, got := r.ProviderStuck(time.Now().Add(time.Minute), 20*time.Second); got {
		t.Errorf("error log read in one batch: stuck (%q)", why)
	}
	if !ProviderClosed(closed) || ProviderClosed("WSREP: dtor state: DESTROYED") {
		t.Error("ProviderClosed")
	}
}
