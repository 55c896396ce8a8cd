package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/clusterview"
	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// defaultStatusPeers is who `status` asks when no member is named: the
// sentinel on this machine.
const defaultStatusPeers = "127.0.0.1:9200"

// StatusConfig is everything `status` needs.
type StatusConfig struct {
	Discovery discovery.Config
	CAFile    string
	TLSName   string
	Timeout   time.Duration
	Format    string
	Mode      string
}

func (c *StatusConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Discovery.Peers, "peers", "", "the members' sentinel addresses, host:port,... (default "+defaultStatusPeers+" unless --peers-dns is given)")
	fs.StringVar(&c.Discovery.PeersDNS, "peers-dns", "", "DNS name whose records are the members (instead of --peers)")
	fs.IntVar(&c.Discovery.PeerPort, "peer-port", 9200, "sentinel port of the members found by --peers-dns")
	fs.StringVar(&c.Discovery.DNSServer, "dns-server", "", "host:port of the DNS server for --peers-dns (default: /etc/resolv.conf)")
	fs.StringVar(&c.CAFile, "tls-ca-file", "", "the sentinels serve HTTPS; trust this CA (PEM)")
	fs.StringVar(&c.TLSName, "tls-server-name", "", "with --tls-ca-file: the DNS name the sentinels' certificate must hold (default: the address called)")
	fs.DurationVar(&c.Timeout, "timeout", 2*time.Second, "bound on each call to a sentinel")
	fs.StringVar(&c.Format, "format", "table", "table or json")
	fs.StringVar(&c.Mode, "mode", modeGalera, "galera or replication: what the sentinels watch")
}

// Validate returns every problem at once.
func (c *StatusConfig) Validate() error {
	var errs []error
	if c.Format != "table" && c.Format != "json" {
		errs = append(errs, fmt.Errorf("--format=%q: want table or json", c.Format))
	}
	if c.Mode != modeGalera && c.Mode != modeReplication {
		errs = append(errs, fmt.Errorf("--mode=%q: want galera or replication", c.Mode))
	}
	errs = append(errs, positive("timeout", c.Timeout), c.Discovery.Validate())
	return errors.Join(errs...)
}

func parseStatus(args []string, getenv func(string) string, stderr io.Writer) (*StatusConfig, error) {
	fs := newFlagSet("status", "status [flags]", "Print one row per member, from each sentinel's /status. Exits 1 when the cluster is unhealthy (a member missing or outside the Primary component, two cluster UUIDs, two Primary components, sizes that disagree) and says why.", stderr)
	cfg := &StatusConfig{}
	cfg.flags(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: status takes no arguments, got %q", errUsage, fs.Args())
	}
	if cfg.Discovery.Peers == "" && cfg.Discovery.PeersDNS == "" {
		cfg.Discovery.Peers = defaultStatusPeers
	}
	cfg.Discovery.Timeout = cfg.Timeout
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

// runStatus prints the cluster as its sentinels see it.
func runStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseStatus(args, getenv, stderr)
	if err != nil {
		return err
	}
	addrs, clientTLS, err := sentinels(ctx, cfg.Discovery, cfg.CAFile, cfg.TLSName)
	if err != nil {
		return err
	}
	c := peer.NewClient("", clientTLS, cfg.Timeout)
	defer c.Close()
	if cfg.Mode == modeReplication {
		members := clusterview.FetchReplication(ctx, c, addrs)
		return printStatus(stdout, cfg.Format, clusterview.ReplicationProblems(members), members, func() { clusterview.RenderReplication(stdout, members) })
	}
	members := clusterview.Fetch(ctx, c, addrs)
	return printStatus(stdout, cfg.Format, clusterview.Problems(members), members, func() { clusterview.Render(stdout, members, "", nil) })
}

// printStatus prints the members as a table (render) or JSON, then the
// problems; any problem is an error, so the exit status says unhealthy.
func printStatus[M any](stdout io.Writer, format string, problems []string, members []M, render func()) error {
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		doc := statusDoc[M]{Healthy: len(problems) == 0, Problems: problems, Members: members}
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
type statusDoc[M any] struct {
	Healthy  bool     `json:"healthy"`
	Problems []string `json:"problems"`
	Members  []M      `json:"members"`
}

// sentinels finds the members' sentinels, and the TLS configuration to
// call them with (nil: plain HTTP), for the subcommands that talk to a
// running cluster (status, switchover).
func sentinels(ctx context.Context, d discovery.Config, caFile, serverName string) ([]string, *tls.Config, error) {
	src, err := d.Source(9200)
	if err != nil {
		return nil, nil, err
	}
	addrs, err := src.Peers(ctx)
	if err != nil {
		return nil, nil, err
	}
	var clientTLS *tls.Config
	if caFile != "" {
		if clientTLS, err = httpserver.ClientTLS(caFile, serverName); err != nil {
			return nil, nil, err
		}
	}
	return addrs, clientTLS, nil
}
