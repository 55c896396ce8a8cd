package mariadbd

import (
	"fmt"
	"sync"
	"time"
)

// shutdownWatch remembers when Galera's provider said it was closed and
// when the last line came.
type shutdownWatch struct {
	mu             sync.Mutex
	closedAt, last time.Time
}

func (w *shutdownWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closedAt, w.last = time.Time{}, time.Time{}
}

func (w *shutdownWatch) line(now time.Time, closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = now
	if closed {
		w.closedAt = now
	}
}

func (w *shutdownWatch) stuck(now time.Time, quiet time.Duration) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closedAt.IsZero() || w.last.After(w.closedAt) || now.Sub(w.closedAt) < quiet {
		return "", false
	}
	return fmt.Sprintf("Galera's provider said it was closed %s ago (\"dtor state: CLOSED\") and mariadbd has printed nothing since: its shutdown waits for a thread that will not end (an IST sender whose joiner vanished without closing the connection)",
		now.Sub(w.closedAt).Round(time.Second)), true
}
