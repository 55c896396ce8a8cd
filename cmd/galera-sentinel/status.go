package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// defaultStatusPeers is who `status` asks when no member is named: the
// sentinel on this machine.
const defaultStatusPeers = "127.0.0.1:9200"

// StatusConfig is everything `status` needs.
type StatusConfig struct {
	clientFlags
	Format string
	Mode   string
}

// statusClient are status's client flags: every member, no token.
var statusClient = clientUse{
	peersHelp: "the members' sentinel addresses, host:port,... (default " + defaultStatusPeers + " unless --peers-dns is given)",
	timeout:   2 * time.Second, timeoutHelp: "bound on each call to a sentinel",
}

func (c *StatusConfig) flags(fs *flag.FlagSet) {
	c.clientFlags.flags(fs, statusClient)
	fs.StringVar(&c.Format, "format", "table", "table or json")
	fs.StringVar(&c.Mode, "mode", viewers().names()[0], strings.Join(viewers().names(), " or ")+": what the sentinels watch")
}

// Validate returns every problem at once.
func (c *StatusConfig) Validate() error {
	var errs []error
	if c.Format != "table" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("--format=%q: want table or json", c.Format))
	}
	if viewers().get(c.Mode) == nil {
		errs = append(errs, fmt.Errorf("--mode=%q: want %s", c.Mode, strings.Join(viewers().names(), " or ")))
	}
	errs = append(errs, c.clientFlags.validate(statusClient)...)
	return errors.Join(errs...)
}

func parseStatus(args []string, getenv func(string) string, stderr io.Writer) (*StatusConfig, error) {
	fs := newFlagSet("status", "status [flags]", "Print one row per member, from each sentinel's /status. Exits 1 when the cluster is unhealthy (a member missing or outside the Primary component, two cluster UUIDs, two Primary components, sizes that disagree) and says why.", stderr)
	cfg := &StatusConfig{}
	cfg.flags(fs)
	if err := parseNoArgs(fs, args, getenv); err != nil {
		return nil, err
	}
	if cfg.Discovery.Peers == "" && cfg.Discovery.PeersDNS == "" {
		cfg.Discovery.Peers = defaultStatusPeers
	}
	if err := cfg.read(getenv, statusClient); err != nil {
		return nil, err
	}
	if err := usageError(cfg.Validate()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runStatus prints the cluster as its sentinels see it.
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseStatus(args, getenv, stderr)
	if err != nil {
		return err
	}
	addrs, clientTLS, err := cfg.sentinels(ctx)
	if err != nil {
		return err
	}
	c := peer.NewClient("", clientTLS, cfg.Timeout)
	defer c.Close()
	v := viewers().get(cfg.Mode).(sentinel.Viewer).View(ctx, c, addrs)
	return printStatus(stdout, cfg.Format, v.Problems, v.Members, func() { v.Render(stdout) })
}

// printStatus prints the members as a table (render) or JSON, then the
// problems; any problem is an error, so the exit status says unhealthy.
func printStatus(stdout io.Writer, format string, problems []string, members any, render func()) error {
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		doc := statusDoc{Healthy: len(problems) == 0, Problems: problems, Members: members}
		if doc.Problems == nil {
			doc.Problems = []string{}
		}
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		render()
		if len(problems) > 0 {
			fmt.Fprintf(stdout, "\nunhealthy:\n  %s\n", strings.Join(problems, "\n  "))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("unhealthy: %s", strings.Join(problems, "; "))
	}
	return nil
}

// statusDoc is `status --format=json`.
type statusDoc struct {
	Healthy  bool     `json:"healthy"`
	Problems []string `json:"problems"`
	Members  any      `json:"members"`
}
