package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
)

// EventsConfig is everything `events` needs.
type EventsConfig struct {
	File   string
	Since  string
	Follow bool
	Format string
	since  time.Time
}

func (c *EventsConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.File, "file", "/var/lib/mysql/"+journal.FileName, "the journal: run mode's --events-file (by default "+journal.FileName+" in the data directory)")
	fs.StringVar(&c.Since, "since", "", "only events at or after this: an RFC 3339 time, or a duration back from now (1h)")
	fs.BoolVar(&c.Follow, "follow", false, "after the events so far, print new ones as they are written, until interrupted")
	fs.StringVar(&c.Format, "format", "text", "text or json (one event per line, as in the file)")
}

func parseEvents(args []string, getenv func(string) string, stderr io.Writer) (*EventsConfig, error) {
	fs := newFlagSet("events", "events [flags]", "Print a member's event journal: verdict changes, decisions, drains, mariadbd starts and exits, across restarts of the sentinel, the pod or the node.", stderr)
	cfg := &EventsConfig{}
	cfg.flags(fs)
	if err := parseNoArgs(fs, args, getenv); err != nil {
		return nil, err
	}
	var errs []string
	if cfg.Format != "text" && cfg.Format != "json" {
		errs = append(errs, fmt.Sprintf("--format=%q: want text or json", cfg.Format))
	}
	since, err := journal.ParseSince(cfg.Since, time.Now())
	if err != nil {
		errs = append(errs, "--"+err.Error())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %s", errUsage, strings.Join(errs, "; "))
	}
	cfg.since = since
	return cfg, nil
}

// runEvents prints the journal, then follows it when asked.
func runEvents(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseEvents(args, getenv, stderr)
	if err != nil {
		return err
	}
	evs, skipped, err := journal.Read(cfg.File, cfg.since)
	if err != nil {
		return err
	}
	print := func(e journal.Event) {
		if cfg.Format == "json" {
			b, _ := json.Marshal(e)
			fmt.Fprintf(stdout, "%s\n", b)
			return
		}
		fmt.Fprintln(stdout, eventLine(e))
	}
	for _, e := range evs {
		print(e)
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "events: %d lines of %s did not parse and were skipped (a torn last line after a crash is one)\n", skipped, cfg.File)
	}
	if cfg.Follow {
		return journal.Follow(ctx, cfg.File, 250*time.Millisecond, print)
	}
	return nil
}

// eventLine is one event as `events` prints it.
func eventLine(e journal.Event) string {
	what := e.Kind
	if e.Probe != "" && e.OK != nil {
		what = fmt.Sprintf("%s %s=%s", e.Kind, e.Probe, map[bool]string{true: "pass", false: "fail"}[*e.OK])
	}
	inst := e.Instance
	if len(inst) > 6 {
		inst = inst[:6]
	}
	return strings.TrimRight(fmt.Sprintf("%s  %-10s %-6s %-22s %s", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Node, inst, what, e.Reason), " ")
}
