// Package progress gathers the signs that a member which runs mariadbd,
// but does not answer yet or is joining, is still getting somewhere: the
// bytes under its data directory and the lines mariadbd prints. It only
// measures and reports (through a callback, health.Poller.Progressed);
// what "stuck" means is package readiness's pure rule.
package progress

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// DirUsage is what a walk of a data directory found.
type DirUsage struct {
	Files int
	Bytes int64
}

func (u DirUsage) String() string {
	return fmt.Sprintf("data directory %d files, %s", u.Files, humanBytes(u.Bytes))
}

// skipped are files whose changes say nothing about a state transfer:
// Galera's write-set cache (gcache, filled by the cluster's writes while
// the transfer may be stuck) and its view state. A transfer that is stuck
// while the cluster takes writes must still look stuck.
func skipped(name string) bool {
	return name == "galera.cache" || strings.HasPrefix(name, "gcache.page.") || name == "gvwstate.dat"
}

// Walk sums the sizes of the regular files under dir. Files that vanish
// during the walk (an rsync temporary renamed) are not errors; a dir that
// cannot be read at all is.
func Walk(dir string) (DirUsage, error) {
	var u DirUsage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // gone or unreadable: skip it
		}
		if !d.Type().IsRegular() || skipped(d.Name()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		u.Files++
		u.Bytes += info.Size()
		return nil
	})
	return u, err
}

// DirWatcher walks a data directory every Every while Active says the
// measure matters, and calls Progressed when the usage moved: the number
// of files changed (a transfer creates them: rsync's temporaries, a
// backup's chunks), or the bytes moved by at least MinBytes since the
// last progress. Small appends alone (a log line in the data directory,
// the last buffer of a file flushed after the link died) are not a
// transfer: in the lab a blackholed rsync SST still wrote 292 bytes 12 s
// after its link went silent. Bytes add up across walks, so a link of any
// useful speed still shows.
type DirWatcher struct {
	Dir   string
	Every time.Duration
	// MinBytes is the least move of the bytes that counts (default
	// DefaultMinBytes).
	MinBytes int64
	// Active reports whether a walk is wanted now (the stall rule watches
	// the member); nil: always.
	Active func() bool
	// Progressed hears each change, with the usage described.
	Progressed func(what string)
	Logger     *slog.Logger
}

// Run walks until ctx ends.
func (w *DirWatcher) Run(ctx context.Context) {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(w.Every)
	defer t.Stop()
	minBytes := w.MinBytes
	if minBytes <= 0 {
		minBytes = DefaultMinBytes
	}
	var base DirUsage // the usage at the last progress reported
	seen := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.Active != nil && !w.Active() {
			continue
		}
		begin := time.Now()
		u, err := Walk(w.Dir)
		took := time.Since(begin)
		if err != nil {
			log.Debug("data directory walk failed", "dir", w.Dir, "err", err, "took", took)
			continue
		}
		log.Debug("data directory walked", "dir", w.Dir, "files", u.Files, "bytes", u.Bytes, "took", took)
		if !seen || u.Files != base.Files || abs(u.Bytes-base.Bytes) >= minBytes {
			w.Progressed(u.String())
			base, seen = u, true
		}
	}
}

// DefaultMinBytes is DirWatcher's default MinBytes.
const DefaultMinBytes = 1 << 20

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Lines wraps h so that every record (a line mariadbd printed: see
// mariadbd.LogLines) calls seen before it is handled, whether or not h
// logs it at its level.
func Lines(h slog.Handler, seen func()) slog.Handler { return lines{h, seen} }

type lines struct {
	h    slog.Handler
	seen func()
}

func (l lines) Enabled(context.Context, slog.Level) bool { return true }

func (l lines) Handle(ctx context.Context, r slog.Record) error {
	l.seen()
	if !l.h.Enabled(ctx, r.Level) {
		return nil
	}
	return l.h.Handle(ctx, r)
}

func (l lines) WithAttrs(as []slog.Attr) slog.Handler { return lines{l.h.WithAttrs(as), l.seen} }
func (l lines) WithGroup(name string) slog.Handler    { return lines{l.h.WithGroup(name), l.seen} }
