package mariadbd

import (
	"fmt"
	"sync"
	"time"
)

// shutdownWatch remembers when Galera's provider said it was closed and
// whether any line came after that one.
type shutdownWatch struct {
	mu       sync.Mutex
	closedAt time.Time
	after    int // lines since the closed line
}

func (w *shutdownWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closedAt, w.after = time.Time{}, 0
}

func (w *shutdownWatch) line(now time.Time, closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if closed {
		w.closedAt, w.after = now, 0
		return
	}
	w.after++
}

func (w *shutdownWatch) stuck(now time.Time, quiet time.Duration) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closedAt.IsZero() || w.after > 0 || now.Sub(w.closedAt) < quiet {
		return "", false
	}
	return fmt.Sprintf("Galera's provider said it was closed %s ago (\"dtor state: CLOSED\") and mariadbd has printed nothing since: its shutdown waits for a thread that will not end (an IST sender whose joiner vanished without closing the connection)",
		now.Sub(w.closedAt).Round(time.Second)), true
}
