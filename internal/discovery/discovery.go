// Package discovery finds the sentinels of the other cluster members: a
// static list, or the A/AAAA records of a DNS name (the headless Service of
// a StatefulSet, with publishNotReadyAddresses so that members that are not
// ready yet, which is all of them during a full outage, are listed).
//
// It must not call the sentinels it finds (package peer does) or cache an
// answer: every call looks again, so a member that moved is found.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Source lists the peers' sentinel addresses (host:port), this node's own
// included when the source lists it.
type Source interface {
	Peers(ctx context.Context) ([]string, error)
	String() string
}

// Static is a fixed list of host:port addresses.
type Static []string

// ParseStatic parses "host:port,host:port".
func ParseStatic(list string) (Static, error) {
	var s Static
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("peer %q: want host:port", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("peer %q: bad port", a)
		}
		if slices.Contains(s, a) {
			return nil, fmt.Errorf("peer %q listed twice", a)
		}
		s = append(s, a)
	}
	if len(s) == 0 {
		return nil, errors.New("empty peer list")
	}
	return s, nil
}

// Peers returns the list.
func (s Static) Peers(context.Context) ([]string, error) { return slices.Clone(s), nil }

func (s Static) String() string { return "static " + strings.Join(s, ",") }

// DNS resolves Name on every call, so members that move (a rescheduled
// pod) are found at their new address.
type DNS struct {
	Name string
	Port int
	// Server, when set (host:port), is asked instead of the servers in
	// /etc/resolv.conf.
	Server  string
	Timeout time.Duration
}

// Peers resolves the name to its addresses, sorted.
func (d DNS) Peers(ctx context.Context) ([]string, error) {
	r := &net.Resolver{PreferGo: true}
	if d.Server != "" {
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, network, d.Server)
		}
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	ips, err := r.LookupIPAddr(ctx, d.Name)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", d.Name, err)
	}
	var out []string
	for _, ip := range ips {
		a := net.JoinHostPort(ip.IP.String(), strconv.Itoa(d.Port))
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (d DNS) String() string {
	s := fmt.Sprintf("dns %s port %d", d.Name, d.Port)
	if d.Server != "" {
		s += " via " + d.Server
	}
	return s
}
