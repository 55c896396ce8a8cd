package galeramember

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// systemTables are the tables whose divergence Galera does not report:
// a GRANT applied on one member only (one that ran mariadb-upgrade to a
// newer version than the others, a statement run with wsrep_on=OFF).
var systemTables = []string{"mysql.global_priv", "mysql.db", "mysql.tables_priv"}

// SystemTables checks this member's privilege tables and upgrade marker
// every Every while it is Synced, for `status` to compare across members.
type SystemTables struct {
	// Query runs a statement with the sentinel's own account
	// (mariadbd.Runner.Query).
	Query   func(ctx context.Context, statement string) ([]byte, error)
	Synced  func() bool
	DataDir string
	Every   time.Duration
	Logger  *slog.Logger

	mu      sync.Mutex
	doc     *galera.SystemTablesDoc
	same    int // checks in a row that found doc.Checksum
	lastErr string
}

// Run checks until ctx ends.
func (s *SystemTables) Run(ctx context.Context) {
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.Synced() {
			s.check(ctx)
		}
	}
}

func (s *SystemTables) check(ctx context.Context) {
	out, err := s.Query(ctx, "CHECKSUM TABLE "+strings.Join(systemTables, ", "))
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if e := oneline.Error(err); e != s.lastErr {
			s.Logger.Warn("checking the system tables", "err", err)
			s.lastErr = e
		}
		if s.doc != nil {
			d := *s.doc
			d.Error, d.CheckedAt = oneline.Error(err), now
			s.doc = &d
		}
		return
	}
	s.lastErr = ""
	parts, err := parseChecksums(string(out))
	if err != nil {
		s.Logger.Warn("checking the system tables", "err", err)
		return
	}
	marker := upgrade.ReadData(s.DataDir).Marker
	parts = append(parts, "marker="+marker.String())
	joined := strings.Join(parts, " ")
	sum := sha256.Sum256([]byte(joined))
	d := &galera.SystemTablesDoc{Checksum: hex.EncodeToString(sum[:6]), Parts: joined, CheckedAt: now}
	if s.doc != nil && s.doc.Checksum == d.Checksum {
		s.same++
	} else {
		s.same = 1
	}
	d.Settled = s.same >= 2
	s.doc = d
}

// parseChecksums reads CHECKSUM TABLE's rows ("mysql.db\t1234"): a table
// the server does not have (NULL) is named so.
func parseChecksums(out string) ([]string, error) {
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 2 {
			if len(line) > 100 {
				line = line[:100]
			}
			return nil, fmt.Errorf("CHECKSUM TABLE printed %q", line)
		}
		parts = append(parts, strings.TrimPrefix(f[0], "mysql.")+"="+f[1])
	}
	if len(parts) != len(systemTables) {
		return nil, fmt.Errorf("CHECKSUM TABLE printed %d rows, want %d", len(parts), len(systemTables))
	}
	return parts, nil
}

// Doc is the last check (nil before the first).
func (s *SystemTables) Doc() *galera.SystemTablesDoc {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.doc
}
