package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// nodeConfig is what the node stack of serve or run needs besides its
// domain (judge, sampler, metrics).
type nodeConfig struct {
	// Name is the node's name in the journal: run's --node-name, serve's
	// host name.
	Name string
	// Command is "serve" or "run", in the journal's start event.
	Command string
	// EventsFile is the journal's file; "": memory only.
	EventsFile string
	// Tokens guard the admin API; build them once per sentinel
	// (ServeConfig.tokens).
	Tokens *httpserver.Tokens
}

// nodeBase is the part of the node stack that does not depend on the
// domain: this life's instance id, the metrics, the journal (its start
// recorded) and the admin tokens. Run mode opens it before it knows which
// member it wires; newNode builds the domain's poller on it.
type nodeBase struct {
	// Instance tells this life of the sentinel from the next, in the
	// journal and (run mode) to the peers.
	Instance string
	Metrics  *metrics.Metrics
	Journal  *journal.Journal
	Tokens   *httpserver.Tokens

	logger *slog.Logger
}

// openNode opens the journal (recording the start) and the metrics. The
// caller ends with stopped.
func openNode(c nodeConfig, logger *slog.Logger) *nodeBase {
	b := &nodeBase{Instance: newInstanceID(), Metrics: newMetrics(), Tokens: c.Tokens, logger: logger}
	b.Journal = openJournal(c.EventsFile, c.Name, b.Instance, c.Command, logger)
	return b
}

// stopped records the end of the sentinel in the journal and flushes it.
func (b *nodeBase) stopped(err error) { stopped(b.Journal, err) }

// node is the stack serve and run build around one node of either domain:
// the base, the poller over the sampler (recording into the metrics and
// the journal), its probe handlers, and the routes every sentinel serves.
type node[S any] struct {
	*nodeBase
	Poller   *health.Poller[S]
	Handlers *health.Handlers[S]
}

// newNode builds the domain's poller and handlers on b; pc is the
// poller's configuration (its Recorder is set here). Nothing runs until
// the caller runs Poller and serves the mux.
func newNode[S any](b *nodeBase, pc health.PollerConfig, judge readiness.Judge[S], sampler health.Sampler[S], domain metrics.Domain[S]) *node[S] {
	pc.Recorder = health.Tee(b.Metrics, b.Journal)
	n := &node[S]{nodeBase: b, Poller: health.NewPoller(pc, judge, sampler)}
	n.Handlers = health.NewHandlers(n.Poller)
	metrics.Watch(b.Metrics, n.Poller, n.Handlers, domain)
	return n
}

// mux serves the probes, the admin API behind the tokens, /metrics and
// the journal, then extra (a mode's or a command's own routes).
func (n *node[S]) mux(extra ...httpserver.Routes) *http.ServeMux {
	routes := []httpserver.Routes{n.Handlers, admin(n.Handlers, n.Tokens, n.logger), n.Metrics.Routes(), n.Journal.Routes()}
	return httpserver.NewMux(append(routes, extra...)...)
}

// serve runs the endpoints until ctx ends: mux on the HTTP listener, the
// agent check and the notifier over the poller (each notification counted
// in the metrics and the journal).
func (n *node[S]) serve(ctx context.Context, eps *endpoints, mux http.Handler) error {
	return eps.serve(ctx, mux, counted[S]{n.Poller, n.Metrics, n.Journal}, n.logger)
}
