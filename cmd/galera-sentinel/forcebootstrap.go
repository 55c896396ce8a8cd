package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// ForceBootstrapConfig is everything `force-bootstrap` needs.
type ForceBootstrapConfig struct {
	clientFlags
	Node string
	Wait time.Duration
}

// forceBootstrapClient are force-bootstrap's client flags: one
// --sentinel, with the token.
var forceBootstrapClient = clientUse{
	token:   true,
	timeout: 5 * time.Second, timeoutHelp: "bound on each call to a sentinel",
	serverNameHelp: "the name the sentinels' certificate is checked against (default: the host of --sentinel)",
}

func parseForceBootstrap(args []string, getenv func(string) string, stderr io.Writer) (*ForceBootstrapConfig, error) {
	fs := newFlagSet("force-bootstrap", "force-bootstrap NODE [flags]",
		"The operator's override after a full outage when a member of the last Primary component is gone\n"+
			"for good: NODE bootstraps without waiting for it. Sent to any running sentinel (by default the one\n"+
			"on this host, so `kubectl exec` into any member works), which hands it to NODE's sentinel; then\n"+
			"NODE's decisions are printed until it runs mariadbd or refuses. The override is still refused when\n"+
			"a reachable member has a more recent position or another cluster UUID, and it never applies while\n"+
			"a Primary component exists. Nothing needs removing afterwards.", stderr)
	cfg := &ForceBootstrapConfig{}
	cfg.clientFlags.flags(fs, forceBootstrapClient)
	fs.DurationVar(&cfg.Wait, "wait", 2*time.Minute, "how long to follow NODE's decisions after the override is taken (0: do not follow)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("%w: force-bootstrap takes the node's name (e.g. galera-0), got %q", errUsage, fs.Args())
	}
	cfg.Node = fs.Arg(0)
	if err := cfg.read(getenv, forceBootstrapClient); err != nil {
		return nil, err
	}
	var errs []error
	if err := peer.ValidName(cfg.Node); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, cfg.clientFlags.validate(forceBootstrapClient)...)
	errs = append(errs, notNegative("wait", cfg.Wait))
	if err := usageError(errors.Join(errs...)); err != nil {
		return nil, err
	}
	return cfg, nil
}

// runForceBootstrap sends the override and follows the node's decisions.
func runForceBootstrap(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseForceBootstrap(args, getenv, stderr)
	if err != nil {
		return err
	}
	clientTLS, err := cfg.clientTLS()
	if err != nil {
		return err
	}
	c := peer.NewTokensClient(cfg.Tokens, clientTLS, cfg.Timeout)
	defer c.Close()
	answer, err := sendOverride(ctx, cfg, clientTLS)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, answer.Message)
	if cfg.Wait == 0 {
		return nil
	}
	addr := answer.Addr
	if addr == "" {
		addr = cfg.Sentinel
	}
	return followOverride(ctx, c, cfg.Node, addr, cfg.Wait, time.Second, stdout)
}

// sendOverride posts the override to the sentinel and reads its answer.
func sendOverride(ctx context.Context, cfg *ForceBootstrapConfig, clientTLS *tls.Config) (peer.Override, error) {
	scheme := "http"
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if clientTLS != nil {
		scheme, tr.TLSClientConfig = "https", clientTLS
	}
	hc := &http.Client{Transport: tr, Timeout: 2*cfg.Timeout + time.Second} // the sentinel asks the peers first
	defer tr.CloseIdleConnections()
	u := scheme + "://" + cfg.Sentinel + "/api/v1/bootstrap?node=" + url.QueryEscape(cfg.Node)
	var code int
	var b []byte
	// Each token in turn while the sentinel refuses it (a rotation).
	for _, tok := range cfg.Tokens.Send() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
		if err != nil {
			return peer.Override{}, fmt.Errorf("%w: --sentinel %q: %w", errUsage, cfg.Sentinel, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return peer.Override{}, fmt.Errorf("no sentinel answers at %s: %w", cfg.Sentinel, err)
		}
		b, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if code = resp.StatusCode; code != http.StatusUnauthorized && code != http.StatusForbidden {
			break
		}
	}
	if code != http.StatusAccepted {
		return peer.Override{}, fmt.Errorf("override not taken (HTTP %d): %s", code, strings.TrimSpace(string(b)))
	}
	var o peer.Override
	if err := json.Unmarshal(b, &o); err != nil || o.Node != cfg.Node {
		return peer.Override{}, fmt.Errorf("the sentinel at %s answered the override with %q: not a galera-sentinel of this version?", cfg.Sentinel, clipText(string(b)))
	}
	return o, nil
}

// stateGetter fetches a sentinel's state; peer.Client is the real one.
type stateGetter interface {
	State(ctx context.Context, addr string) (peer.State, error)
}

// followOverride prints the node's decisions as they change until its
// mariadbd runs (success), its decision refuses (failure) or wait passes.
func followOverride(ctx context.Context, c stateGetter, node, addr string, wait, every time.Duration, out io.Writer) error {
	deadline := time.Now().Add(wait)
	var last string
	for {
		st, err := c.State(ctx, addr)
		switch {
		case err != nil:
			if last != "error: "+err.Error() {
				fmt.Fprintf(out, "%s: cannot ask its sentinel: %v\n", node, err)
				last = "error: " + err.Error()
			}
		case st.NodeName != node:
			return fmt.Errorf("the sentinel at %s is now %s, not %s: the override was lost; send it again", addr, st.NodeName, node)
		default:
			if st.Decision != last {
				fmt.Fprintf(out, "%s: %s\n", node, st.Decision)
				last = st.Decision
			}
			switch {
			case st.Running:
				fmt.Fprintf(out, "%s runs mariadbd; the other members join it as they come\n", node)
				return nil
			case refused(st):
				return fmt.Errorf("%s refused the override: %s", node, st.Decision)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s has not started within --wait %s; its last decision: %s", node, wait, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// refused reports whether the node's last decision refuses to start: by
// its typed action, or, from a sentinel of the release before it that
// sends the prose alone (a rolling upgrade), by the prose's first word,
// which that release always began with the action's name.
func refused(st peer.State) bool {
	if d, ok := st.Decided(); ok {
		return d.Refused()
	}
	action, _, _ := strings.Cut(st.Decision, ":")
	return member.Action(action) == member.Refuse
}

func clipText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
