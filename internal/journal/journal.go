// Package journal is the member's event journal: every verdict change,
// state change, recovery decision, bootstrap, drain, notification and
// mariadbd exit as one JSON line with a stable schema (Event), kept in
// memory for /api/v1/events, logged (msg "event", component "journal"),
// and appended to a bounded, rotated file on the member's data volume, so
// that the history of a member outlives its pod, its process and its node
// ("galera-sentinel events" reads it).
//
// It must not decide anything, and a journal that cannot be written must
// never stop the member: failures are logged once and the events stay in
// memory until the file can be written again.
package journal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// FileName is the journal's file in the data directory, and RotatedName
// the one it rotates to. Both end in .log, which mariabackup's state
// transfer keeps in a joiner's data directory (rsync's copies only
// directories at the top level and keeps the joiner's files), and neither
// makes a data directory count as holding data.
const (
	FileName    = "galera-sentinel-events.log"
	RotatedName = "galera-sentinel-events.1.log"
)

// Files are the names the journal may leave in a directory.
var Files = []string{FileName, RotatedName}

// DefaultMaxBytes is when the file rotates: two files of this size at
// most, thousands of events each.
const DefaultMaxBytes = 1 << 20

// recentEvents is how many events /api/v1/events keeps in memory.
const recentEvents = 512

// Kinds of event.
const (
	KindStart        = "start"         // the sentinel started
	KindPosition     = "position"      // run mode read its data directory
	KindVerdict      = "verdict"       // a probe's verdict changed
	KindState        = "state"         // the node's state changed (wsrep_local_state)
	KindDecision     = "decision"      // run mode's bootstrap decision changed
	KindBootstrap    = "bootstrap"     // run mode bootstraps a cluster
	KindMariadbd     = "mariadbd"      // run mode started mariadbd
	KindMariadbdExit = "mariadbd-exit" // mariadbd exited
	KindRetry        = "retry"         // run mode will try again
	KindDrain        = "drain"         // drain began or ended
	KindNotification = "notification"  // wsrep_notify_cmd
	KindMember       = "member"        // a member left the Primary component; its pod taken out of the Services
	KindUpgrade      = "upgrade"       // run mode found a new MariaDB version, or ran mariadb-upgrade
	KindStop         = "stop"          // the sentinel stops
)

// Event is one journal line. The schema only grows: fields are never
// renamed or removed.
type Event struct {
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	Kind string    `json:"kind"`
	// Probe and OK: a verdict event's probe and new verdict.
	Probe string `json:"probe,omitempty"`
	OK    *bool  `json:"ok,omitempty"`
	// Reason is the verdict's reason, the decision, the exit status, ...
	Reason string `json:"reason,omitempty"`
	// Instance is the sentinel process that wrote the event (random per
	// start): it tells one life of a member from the next.
	Instance string `json:"instance,omitempty"`
}

// Journal appends events to a file and keeps the recent ones.
type Journal struct {
	path     string // "" for memory only
	maxBytes int64
	node     string
	instance string
	log      *slog.Logger

	mu      sync.Mutex
	recent  []Event
	pending [][]byte // lines not written yet
	failing bool     // the last write failed (logged once)
	closed  bool
	// The file is written by a goroutine of its own, so that a stalled
	// volume never holds up whoever adds an event (the poller among
	// them); wmu serialises the writes.
	kick    chan struct{}
	started sync.Once
	wmu     sync.Mutex
}

// Open returns a journal appending to path (empty: memory only), rotated
// past maxBytes (0: DefaultMaxBytes). Nothing is opened until the first
// event.
func Open(path string, maxBytes int64, node, instance string, logger *slog.Logger) *Journal {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Journal{path: path, maxBytes: maxBytes, node: node, instance: instance, log: logger.With("component", "journal"),
		kick: make(chan struct{}, 1)}
}

// Path is the journal's file, "" when it keeps events in memory only.
func (j *Journal) Path() string { return j.path }

// Add records e, stamped with the time (when unset), node and instance.
func (j *Journal) Add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	e.Node, e.Instance = j.node, j.instance
	line, err := json.Marshal(e)
	if err != nil {
		return // an Event always marshals
	}
	attrs := []any{"kind", e.Kind, "instance", e.Instance}
	if e.Probe != "" {
		attrs = append(attrs, "probe", e.Probe)
	}
	if e.OK != nil {
		attrs = append(attrs, "ok", *e.OK)
	}
	if e.Reason != "" {
		attrs = append(attrs, "reason", e.Reason)
	}
	j.log.Info("event", attrs...)
	j.mu.Lock()
	j.recent = append(j.recent, e)
	if len(j.recent) > recentEvents {
		j.recent = append(j.recent[:0:0], j.recent[len(j.recent)-recentEvents:]...)
	}
	if j.path == "" || j.closed {
		j.mu.Unlock()
		return
	}
	j.pending = append(j.pending, append(line, '\n'))
	if len(j.pending) > recentEvents {
		j.pending = j.pending[len(j.pending)-recentEvents:]
	}
	// Under mu, which Close holds to close kick; the send never blocks.
	j.started.Do(func() { go j.writer() })
	select {
	case j.kick <- struct{}{}:
	default: // a write is due already
	}
	j.mu.Unlock()
}

func (j *Journal) writer() {
	for range j.kick {
		j.Flush()
	}
}

// Flush writes what is pending to the file now, and returns once it is
// written or the write failed (the events stay pending then).
func (j *Journal) Flush() error {
	if j.path == "" {
		return nil
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	j.mu.Lock()
	lines := j.pending
	j.pending = nil
	j.mu.Unlock()
	if len(lines) == 0 {
		return nil
	}
	err := j.write(lines)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.pending = append(lines, j.pending...)
		if len(j.pending) > recentEvents {
			j.pending = j.pending[len(j.pending)-recentEvents:]
		}
		if !j.failing {
			j.log.Warn("event journal not written; events are kept in memory and written once it can be", "path", j.path, "err", err)
		}
		j.failing = true
		return err
	}
	if j.failing {
		j.log.Info("event journal written again", "path", j.path)
	}
	j.failing = false
	return nil
}

// Close writes what is pending, waiting at most wait for a slow volume,
// and stops the writer; later events are kept in memory only.
func (j *Journal) Close(wait time.Duration) {
	done := make(chan struct{})
	go func() { j.Flush(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		j.log.Warn("event journal: the last events were not written in time", "path", j.path, "wait", wait)
	}
	j.mu.Lock()
	if !j.closed {
		j.closed = true
		close(j.kick)
	}
	j.mu.Unlock()
}

// write appends lines to the file, rotating first when they would make
// it larger than maxBytes.
func (j *Journal) write(lines [][]byte) error {
	var n int64
	for _, l := range lines {
		n += int64(len(l))
	}
	if st, err := os.Stat(j.path); err == nil && st.Size()+n > j.maxBytes && st.Size() > 0 {
		if err := os.Rename(j.path, filepath.Join(filepath.Dir(j.path), RotatedName)); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(bytes.Join(lines, nil))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Recent returns the events kept in memory at or after since, oldest
// first.
func (j *Journal) Recent(since time.Time) []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Event{}
	for _, e := range j.recent {
		if !e.Time.Before(since) {
			out = append(out, e)
		}
	}
	return out
}

// Read returns the events of the journal file at path, the rotated one
// first, at or after since. Lines that do not parse (a torn last line
// after a crash, garbage) are skipped and counted.
func Read(path string, since time.Time) (events []Event, skipped int, err error) {
	for _, p := range []string{filepath.Join(filepath.Dir(path), RotatedName), path} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		evs, bad, err := parse(f, since)
		f.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", p, err)
		}
		events, skipped = append(events, evs...), skipped+bad
	}
	return events, skipped, nil
}

// parse reads journal lines from r.
func parse(r io.Reader, since time.Time) (events []Event, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(line), &e); err != nil || e.Kind == "" || e.Time.IsZero() {
			skipped++
			continue
		}
		if !e.Time.Before(since) {
			events = append(events, e)
		}
	}
	return events, skipped, sc.Err()
}

// Polled is health.Recorder's; polls are not events.
func (j *Journal) Polled(time.Duration, error) {}

// VerdictChanged records a probe's new verdict (health.Recorder).
func (j *Journal) VerdictChanged(probe string, v readiness.Verdict, at time.Time) {
	ok := v.OK
	j.Add(Event{Time: at, Kind: KindVerdict, Probe: probe, OK: &ok, Reason: v.Reason})
}

// StateChanged records the node's new state (health.Recorder).
func (j *Journal) StateChanged(state string, at time.Time) {
	j.Add(Event{Time: at, Kind: KindState, Reason: state})
}

// Routes registers GET /api/v1/events: the recent events as a JSON array,
// oldest first; ?since= takes an RFC 3339 time or a duration back from
// now (10m), ?limit= keeps the last N.
func (j *Journal) Routes() httpserver.Routes {
	return httpserver.RoutesFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			since, err := ParseSince(q.Get("since"), time.Now())
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			evs := j.Recent(since)
			if l := q.Get("limit"); l != "" {
				n, err := strconv.Atoi(l)
				if err != nil || n < 1 {
					http.Error(w, fmt.Sprintf("limit=%q: want a positive number of events", l), http.StatusBadRequest)
					return
				}
				evs = evs[max(0, len(evs)-n):]
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(evs)
		})
	})
}

// ParseSince reads a --since or ?since= value: empty (everything), an
// RFC 3339 time, or a duration back from now.
func ParseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("since=%q: want an RFC 3339 time (2026-12-01T18:00:00Z) or a duration back from now (10m)", v)
}

// Follow calls out for every event appended to the journal at path after
// the events already there, until ctx ends; it follows the file across a
// rotation.
func Follow(ctx context.Context, path string, every time.Duration, out func(Event)) error {
	var offset int64
	if st, err := os.Stat(path); err == nil {
		offset = st.Size()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if st.Size() < offset { // rotated: the new file starts over
			offset = 0
		}
		if st.Size() == offset {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		b, err := io.ReadAll(io.LimitReader(f, st.Size()-offset))
		f.Close()
		if err != nil {
			return err
		}
		// Only whole lines: a line being written is read next time.
		whole := bytes.LastIndexByte(b, '\n') + 1
		evs, _, _ := parse(bytes.NewReader(b[:whole]), time.Time{})
		for _, e := range evs {
			out(e)
		}
		offset += int64(whole)
	}
}
