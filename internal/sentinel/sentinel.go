// Package sentinel is what every database mode of serve and run plugs
// into: the Mode interface, the kit the command opens for a mode (the
// connection to mariadbd, the metrics, the journal, the peers, the
// lifecycle's settings), and the node stack a mode builds on it (Stack).
//
// A mode is one package that implements Mode: it declares its own flags,
// checks them, and wires its node for serve and its member for run. The
// command lists the modes (cmd/galera-sentinel/modes.go, one line each);
// everything the modes share (the endpoints, the common flags, the
// logger, the Kubernetes writer label) stays in the command.
package sentinel

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/clusterview"
	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

// Mode is one database mode of serve and run (--mode=<Info().Name>).
type Mode interface {
	// Info names the mode and the common flags it has no use for.
	Info() Info
	// Flags declares the mode's own flags on fs: run's flag set when run
	// is true, else serve's. A flag declared here applies under this mode
	// alone: set under another mode, the command refuses it. Its name is
	// the mode's own; a flag several modes share is a common flag.
	Flags(fs *flag.FlagSet, run bool)
	// Configure checks the mode's flags once they are parsed and reads
	// its secrets; it returns every problem at once.
	Configure(s Settings) error
	// Check may refuse mariadbd's configuration in run mode, before
	// anything is opened.
	Check(eff mariadbd.Effective) error
	// Serve wires serve's node: the stack over k, and what it serves
	// besides the common routes. Its Run is nil.
	Serve(ctx context.Context, k *Kit) (*Wired, error)
	// Run wires run's member over k: its life (Wired.Run) and what runs
	// beside it.
	Run(ctx context.Context, k *RunKit) (*Wired, error)
}

// Viewer is a Mode with a view of its cluster, for `status --mode`.
type Viewer interface {
	// View fetches every member's /status from the sentinels at addrs
	// through c and says what is wrong.
	View(ctx context.Context, c clusterview.StatusGetter, addrs []string) View
}

// View is a cluster as its sentinels see it.
type View struct {
	// Members are the members' documents (a slice), as JSON prints them.
	Members any
	// Problems say why the cluster is unhealthy; none: healthy.
	Problems []string
	// Render writes the table.
	Render func(w io.Writer)
}

// Info is what the command says of a mode.
type Info struct {
	// Name is the value of --mode.
	Name string
	// About is one line for --mode's help.
	About string
	// Ignores are common flags that do nothing under this mode: set
	// explicitly, the command refuses them.
	Ignores []string
}

// Settings is what Configure sees besides the mode's own flags.
type Settings struct {
	// Run: the flags are run's (else serve's).
	Run bool
	// Getenv reads the environment, for the mode's secrets.
	Getenv func(string) string
}

// Kit is what the command opened for a mode's node, in serve and run.
type Kit struct {
	*Base
	// Client is the one connection to mariadbd, which the probes and
	// the drain's session list read through.
	Client *mysqlstat.Client
	// Poller is the poller's configuration (NewStack sets its Recorder).
	Poller health.PollerConfig
	// Limits are the common checks behind the mode's policy.
	Limits readiness.Limits
	// MySQL is the sentinel's account, for a pool of the mode's own.
	MySQL mysqlstat.Config
	// Self is how serve reaches its own endpoints ("" in run).
	Self string
}

// RunKit is what the command opened for run's member.
type RunKit struct {
	Kit
	NodeName string
	DataDir  string
	// Listen is --listen, the sentinel's own address.
	Listen string
	// Effective is mariadbd's configuration, as it will run.
	Effective mariadbd.Effective
	// Mariadbd is how to run mariadbd.
	Mariadbd mariadbd.Config
	// Member is the lifecycle's configuration: the drain (its session
	// closer and figures), the stop, the retry, the journal.
	Member member.Config
	Source discovery.Source
	Peers  *peer.Client
	Reaper *supervisor.Reaper
	// Token is the first API token, which the member presents to peers
	// outside the peer client (a backup stream).
	Token          string
	DecideInterval time.Duration
	PeerTimeout    time.Duration
	// KubeAPI, on Kubernetes, tells whether this sentinel's last try to
	// reach the API server failed, and whether every try has failed for a
	// while (kube.Reach); nil elsewhere.
	KubeAPI func() (failing, unreachable bool)
}

// Wired is one mode's node (serve) or member (run), ready to run.
type Wired struct {
	// Run is the member's life (run mode); nil in serve.
	Run func(ctx context.Context) error
	// Tasks run beside it until it ends: the poller, the mode's watchers.
	Tasks []func(ctx context.Context)
	// Mux serves the endpoints; Poked answers the agent check and takes
	// notifications (Stack.Wire sets both).
	Mux   http.Handler
	Poked Poked
	// IsWriter tells whether /writerz answers 200 now.
	IsWriter func() bool
	// InMaintenance tells whether the operator put the node in
	// maintenance (and it is not stopping).
	InMaintenance func() bool
	// InPrimary tells whether a fresh sample says the node is in a
	// Primary component; nil when the mode has none (the Kubernetes
	// Primary condition is then refused).
	InPrimary func() bool
	// Departed tells the members (by node name) that left this member's
	// Primary component, and Gone whether one is outside it now; nil
	// when the mode cannot tell.
	Departed <-chan []string
	Gone     func(name string) bool
	// APICut tells the ready members (by node name) of this member's
	// view whose sentinels cannot reach the Kubernetes API server while
	// this one can; nil when the mode cannot tell.
	APICut func() []string
	// Attrs are what the start line says of the mode.
	Attrs []any
	// Close releases what the mode opened, after everything stopped.
	Close func()
}

// Poked is what HAProxy's agent check and the notify socket need of the
// poller.
type Poked interface {
	Traffic(now time.Time) health.Traffic
	Notify()
}

// Base is the part of the node stack that does not depend on the domain:
// this life's instance id, the metrics, the journal and the admin tokens.
type Base struct {
	// Instance tells this life of the sentinel from the next, in the
	// journal and (run mode) to the peers.
	Instance string
	Metrics  *metrics.Metrics
	Journal  *journal.Journal
	Tokens   *httpserver.Tokens
	Logger   *slog.Logger
}

// Stack is the node stack of one domain: the base, the poller over the
// domain's sampler (recording into the metrics and the journal), and its
// probe handlers.
type Stack[S any] struct {
	*Base
	Poller   *health.Poller[S]
	Handlers *health.Handlers[S]
}

// NewStack builds the domain's poller and handlers on b. Nothing runs
// until Wire's tasks do.
func NewStack[S any](b *Base, pc health.PollerConfig, judge readiness.Judge[S], sampler health.Sampler[S], domain metrics.Domain[S]) *Stack[S] {
	pc.Recorder = health.Tee(b.Metrics, b.Journal)
	n := &Stack[S]{Base: b, Poller: health.NewPoller(pc, judge, sampler)}
	n.Handlers = health.NewHandlers(n.Poller)
	metrics.Watch(b.Metrics, n.Poller, n.Handlers, domain)
	return n
}

// Wire finishes w over the stack: the poller runs beside the member, the
// mux serves the probes, the admin API behind the tokens, /metrics, the
// journal and then extra (the mode's own routes), and /writerz tells who
// writes.
func (n *Stack[S]) Wire(w *Wired, extra ...httpserver.Routes) *Wired {
	admin := httpserver.RoutesFunc(func(mux *http.ServeMux) {
		n.Handlers.RegisterAdmin(mux, httpserver.RequireTokens(n.Tokens, n.Logger), n.Logger)
	})
	routes := []httpserver.Routes{n.Handlers, admin, n.Metrics.Routes(), n.Journal.Routes()}
	w.Mux = httpserver.NewMux(append(routes, extra...)...)
	w.Poked = counted[S]{n.Poller, n.Metrics, n.Journal}
	w.Tasks = append([]func(ctx context.Context){n.Poller.Run}, w.Tasks...)
	w.IsWriter = func() bool { return n.Handlers.Writer(time.Now()).Role == readiness.Writer }
	w.InMaintenance = func() bool {
		o := n.Poller.Snapshot().Observation
		return o.Maintenance && !o.Stopping
	}
	return w
}

// Fresh is the poller's last sample while it is fresh enough to vouch
// for, nil otherwise.
func (n *Stack[S]) Fresh(maxAge time.Duration) func() *S {
	return func() *S {
		s := n.Poller.Snapshot()
		if s.Last == nil || time.Since(s.LastAt) > maxAge {
			return nil
		}
		return s.Last
	}
}

// ReadyAt is the poller's Ready verdict, as a member publishes it.
func (n *Stack[S]) ReadyAt(s *health.Snapshot[S], now time.Time) bool {
	return n.Poller.Ready(s, now).OK
}

// counted is the poller, with each notification counted in the metrics
// and the journal.
type counted[S any] struct {
	*health.Poller[S]
	m  *metrics.Metrics
	jr *journal.Journal
}

func (c counted[S]) Notify() {
	c.m.Notified()
	c.jr.Add(journal.Event{Kind: journal.KindNotification})
	c.Poller.Notify()
}

// SecondSignal subscribes to the signals that cut a drain short.
func SecondSignal() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	return ch, func() { signal.Stop(ch) }
}

// EnvPrefix: every flag --foo-bar can also be set as GALERA_SENTINEL_FOO_BAR.
const EnvPrefix = "GALERA_SENTINEL_"

// ErrUsage marks an error in how the sentinel was invoked (exit status 2).
var ErrUsage = errors.New("usage")

// ReadSecret reads a secret from a file (trailing newline trimmed, as
// `echo secret > file` leaves one) or from the environment variable env,
// never both.
func ReadSecret(flagName, file, env string, getenv func(string) string) (string, error) {
	v := getenv(env)
	if file != "" && v != "" {
		return "", fmt.Errorf("%w: both %s and %s are set; use one", ErrUsage, flagName, env)
	}
	if file == "" {
		return v, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", flagName, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Positive is nil for a positive duration, else the flag's problem.
func Positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("--%s=%s: must be positive", name, d)
	}
	return nil
}

// NotNegative is nil for a duration >= 0, else the flag's problem.
func NotNegative(name string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--%s=%s: must not be negative", name, d)
	}
	return nil
}
