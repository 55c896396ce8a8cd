package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
)

// defaultSentinelPort is where a sentinel listens unless told otherwise
// (serve's and run's --listen).
const defaultSentinelPort = 9200

// peerTLS is how a caller of sentinels (run mode's member calling its
// peers, status, switchover, force-bootstrap) trusts them.
type peerTLS struct {
	TLSCAFile     string
	TLSServerName string
}

// flags registers --tls-ca-file and --tls-server-name, with the help
// texts of the caller.
func (t *peerTLS) flags(fs *flag.FlagSet, caHelp, serverNameHelp string) {
	fs.StringVar(&t.TLSCAFile, "tls-ca-file", "", caHelp)
	fs.StringVar(&t.TLSServerName, "tls-server-name", "", serverNameHelp)
}

func (t *peerTLS) validate() error {
	if t.TLSServerName != "" && t.TLSCAFile == "" {
		return errors.New("--tls-server-name needs --tls-ca-file: it names the certificate the sentinels are verified against")
	}
	return nil
}

// clientTLS is the TLS configuration to call sentinels with; nil: plain
// HTTP.
func (t *peerTLS) clientTLS() (*tls.Config, error) {
	if t.TLSCAFile == "" {
		return nil, nil
	}
	return httpserver.ClientTLS(t.TLSCAFile, t.TLSServerName)
}

// discoveryFlags registers how the members are found: --peers,
// --peers-dns, --peer-port (default port), --dns-server.
func discoveryFlags(fs *flag.FlagSet, d *discovery.Config, peersHelp, peersDNSHelp, peerPortHelp string, port int) {
	fs.StringVar(&d.Peers, "peers", "", peersHelp)
	fs.StringVar(&d.PeersDNS, "peers-dns", "", peersDNSHelp)
	fs.IntVar(&d.PeerPort, "peer-port", port, peerPortHelp)
	fs.StringVar(&d.DNSServer, "dns-server", "", "host:port of the DNS server for --peers-dns (default: /etc/resolv.conf)")
}

// clientFlags are the flags of the subcommands that call running
// sentinels (status, switchover, force-bootstrap): where the sentinels
// are, how they are trusted, the API token, the bound on each call.
// Declared once, so each is spelled and read the same in every
// subcommand.
type clientFlags struct {
	// Discovery finds every member (status, switchover).
	Discovery discovery.Config
	// Sentinel is the one sentinel called (force-bootstrap).
	Sentinel string
	peerTLS
	TokenFile string
	Tokens    *httpserver.Tokens // from the file or the environment; never logged
	Token     string             // the first of Tokens; never logged
	Timeout   time.Duration
}

// clientUse says which client flags a subcommand has, and their defaults.
type clientUse struct {
	// peersHelp is the help of --peers, for a subcommand that finds every
	// member; "": it calls --sentinel instead.
	peersHelp string
	// token: the subcommand calls the token-protected API.
	token          bool
	timeout        time.Duration
	timeoutHelp    string
	serverNameHelp string
}

const sentinelsServerNameHelp = "with --tls-ca-file: the DNS name the sentinels' certificate must hold (default: the address called)"

func (c *clientFlags) flags(fs *flag.FlagSet, u clientUse) {
	if u.peersHelp != "" {
		discoveryFlags(fs, &c.Discovery, u.peersHelp, "DNS name whose records are the members (instead of --peers)",
			"sentinel port of the members found by --peers-dns", defaultSentinelPort)
	} else {
		fs.StringVar(&c.Sentinel, "sentinel", fmt.Sprintf("127.0.0.1:%d", defaultSentinelPort), "host:port of a running sentinel of the cluster")
	}
	if u.token {
		fs.StringVar(&c.TokenFile, "token-file", "", "file holding the sentinels' API token (or set "+tokenEnv+")")
	}
	serverNameHelp := u.serverNameHelp
	if serverNameHelp == "" {
		serverNameHelp = sentinelsServerNameHelp
	}
	c.peerTLS.flags(fs, "the sentinels serve HTTPS; trust this CA (PEM)", serverNameHelp)
	fs.DurationVar(&c.Timeout, "timeout", u.timeout, u.timeoutHelp)
}

// read reads the token (when the subcommand has --token-file) and bounds
// discovery by --timeout. Call after parseFlags.
func (c *clientFlags) read(getenv func(string) string, u clientUse) error {
	c.Discovery.Timeout = c.Timeout
	if !u.token {
		return nil
	}
	toks, err := readTokens(c.TokenFile, getenv)
	if err != nil {
		return err
	}
	c.Tokens, c.Token = toks, ""
	if s := toks.Send(); len(s) > 0 {
		c.Token = s[0]
	}
	return nil
}

// validate returns the client flags' problems.
func (c *clientFlags) validate(u clientUse) []error {
	errs := []error{positive("timeout", c.Timeout), c.peerTLS.validate()}
	if u.peersHelp != "" {
		errs = append(errs, c.Discovery.Validate())
	}
	if u.token && c.Token == "" {
		errs = append(errs, fmt.Errorf("the sentinels' API needs their token: --token-file or %s", tokenEnv))
	}
	return errs
}

// sentinels finds the members' sentinels, and the TLS configuration to
// call them with (nil: plain HTTP).
func (c *clientFlags) sentinels(ctx context.Context) ([]string, *tls.Config, error) {
	src, err := c.Discovery.Source(defaultSentinelPort)
	if err != nil {
		return nil, nil, err
	}
	addrs, err := src.Peers(ctx)
	if err != nil {
		return nil, nil, err
	}
	clientTLS, err := c.clientTLS()
	if err != nil {
		return nil, nil, err
	}
	return addrs, clientTLS, nil
}
