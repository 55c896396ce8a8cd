package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/switchover"
)

// SwitchoverConfig is everything `switchover` needs.
type SwitchoverConfig struct {
	clientFlags
	To      string
	ToMySQL string
	Wait    time.Duration
	MaxLag  time.Duration
	Settle  time.Duration
}

// switchoverClient are switchover's client flags: every member, with the
// token.
var switchoverClient = clientUse{
	peersHelp: "every member's sentinel address, host:port,... (or --peers-dns)",
	token:     true,
	timeout:   5 * time.Second, timeoutHelp: "bound on each call to a sentinel (besides the promote step's wait)",
}

func (c *SwitchoverConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.To, "to", "", "the member to promote: its sentinel's host:port, its host, or a DNS name of its address (required)")
	fs.StringVar(&c.ToMySQL, "to-mysql", "", "the new primary's MariaDB address, host[:port], as the other members reach it (default: the host of --to, the port the replicas use now)")
	c.clientFlags.flags(fs, switchoverClient)
	fs.DurationVar(&c.Wait, "wait", 30*time.Second, "how long the candidate may take to apply the demoted primary's last transaction; past it the switchover is undone (the old primary writable again)")
	fs.DurationVar(&c.MaxLag, "max-lag", 10*time.Second, "refuse when the candidate is further behind than this when the switchover starts")
	fs.DurationVar(&c.Settle, "settle", 30*time.Second, "how long to wait, at the end, for every member to show its new role")
}

// Validate returns every problem at once.
func (c *SwitchoverConfig) Validate() error {
	var errs []error
	if c.To == "" {
		errs = append(errs, errors.New("--to is required: the member to promote"))
	}
	if c.Discovery.Peers == "" && c.Discovery.PeersDNS == "" {
		errs = append(errs, errors.New("--peers or --peers-dns is required: every member must be repointed"))
	}
	if c.Wait > switchover.MaxWait {
		errs = append(errs, fmt.Errorf("--wait=%s: at most %s", c.Wait, switchover.MaxWait))
	}
	errs = append(errs, c.clientFlags.validate(switchoverClient)...)
	errs = append(errs, positive("wait", c.Wait), notNegative("max-lag", c.MaxLag), positive("settle", c.Settle))
	return errors.Join(errs...)
}

func parseSwitchover(args []string, getenv func(string) string, stderr io.Writer) (*SwitchoverConfig, error) {
	fs := newFlagSet("switchover", "switchover --to MEMBER --peers a:9200,b:9200,c:9200 [flags]",
		"Move the primary of an asynchronous replication set to another member, on request: the primary\n"+
			"becomes read-only, the candidate applies its last transaction (bounded by --wait, else the\n"+
			"switchover is undone), is promoted, and every other member and the old primary replicate from it.\n"+
			"Refused unless there is exactly one writable primary and the candidate is a healthy replica of it.\n"+
			"There is no automatic failover: see docs/replication.md.", stderr)
	cfg := &SwitchoverConfig{}
	cfg.flags(fs)
	if err := parseNoArgs(fs, args, getenv); err != nil {
		return nil, err
	}
	if err := cfg.read(getenv, switchoverClient); err != nil {
		return nil, err
	}
	if err := usageError(cfg.Validate()); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runSwitchover moves the primary, printing each step.
func runSwitchover(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseSwitchover(args, getenv, stderr)
	if err != nil {
		return err
	}
	addrs, clientTLS, err := cfg.sentinels(ctx)
	if err != nil {
		return err
	}
	call := peer.NewTokensClient(cfg.Tokens, clientTLS, cfg.Timeout)
	defer call.Close()
	promote := peer.NewTokensClient(cfg.Tokens, clientTLS, cfg.Wait+switchover.DefaultStepTimeout+cfg.Timeout)
	defer promote.Close()
	fmt.Fprintf(stdout, "switchover to %s; members:\n", cfg.To)
	_, err = switchover.Run(ctx, switchover.Clients{Call: call, Promote: promote}, addrs, switchover.Options{
		To: cfg.To, ToMySQL: cfg.ToMySQL, Limits: switchover.Limits{MaxLag: cfg.MaxLag},
		Wait: cfg.Wait, Settle: cfg.Settle, Out: stdout,
		Resolve: func(ctx context.Context, host string) ([]string, error) {
			ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			return net.DefaultResolver.LookupHost(ctx, host)
		},
	})
	return err
}
