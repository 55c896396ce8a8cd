package discovery

import (
	"errors"
	"fmt"
	"time"
)

// Config says where the members' sentinels are: a static list, or a DNS
// name. run and status share it.
type Config struct {
	// Peers is a static list, host:port,...
	Peers string
	// PeersDNS is a name whose A/AAAA records are the members.
	PeersDNS string
	// PeerPort is the sentinel port of members found by DNS; 0 means the
	// default port Source is given.
	PeerPort int
	// DNSServer (host:port) is asked instead of /etc/resolv.conf's.
	DNSServer string
	// Timeout bounds one resolution.
	Timeout time.Duration
}

// Validate returns every problem, in a stable order, each naming its flag.
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.Peers == "" && c.PeersDNS == "":
		errs = append(errs, errors.New("give the members with --peers or --peers-dns"))
	case c.Peers != "" && c.PeersDNS != "":
		errs = append(errs, errors.New("--peers and --peers-dns: use one"))
	case c.Peers != "":
		if _, err := ParseStatic(c.Peers); err != nil {
			errs = append(errs, fmt.Errorf("--peers: %w", err))
		}
	}
	if c.PeerPort < 0 || c.PeerPort > 65535 {
		errs = append(errs, fmt.Errorf("--peer-port=%d", c.PeerPort))
	}
	return errors.Join(errs...)
}

// Source returns the peer source the config describes; defaultPort is the
// members' sentinel port when PeerPort is 0.
func (c Config) Source(defaultPort int) (Source, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.Peers != "" {
		return ParseStatic(c.Peers)
	}
	port := c.PeerPort
	if port == 0 {
		port = defaultPort
	}
	return DNS{Name: c.PeersDNS, Port: port, Server: c.DNSServer, Timeout: c.Timeout}, nil
}
