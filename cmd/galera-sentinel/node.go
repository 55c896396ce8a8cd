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
	// Poller is the poller's configuration; newNode sets its Recorder.
	Poller health.PollerConfig
	// Tokens guard the admin API; build them once per sentinel
	// (ServeConfig.tokens).
	Tokens *httpserver.Tokens
}

// node is the stack serve and run build around one node of either domain:
// the metrics, the journal, the poller over the sampler (recording into
// both), its probe handlers, and the routes every sentinel serves.
type node[S any] struct {
	// Instance tells this life of the sentinel from the next, in the
	// journal and (run mode) to the peers.
	Instance string
	Metrics  *metrics.Metrics
	Journal  *journal.Journal
	Poller   *health.Poller[S]
	Handlers *health.Handlers[S]

	tokens *httpserver.Tokens
	logger *slog.Logger
}

// newNode opens the journal (recording the start) and builds the stack.
// Nothing runs until the caller runs Poller and serves the mux; the
// caller ends with stopped.
func newNode[S any](c nodeConfig, judge readiness.Judge[S], sampler health.Sampler[S], domain metrics.Domain[S], logger *slog.Logger) *node[S] {
	n := &node[S]{Instance: newInstanceID(), Metrics: newMetrics(), tokens: c.Tokens, logger: logger}
	n.Journal = openJournal(c.EventsFile, c.Name, n.Instance, c.Command, logger)
	pc := c.Poller
	pc.Recorder = health.Tee(n.Metrics, n.Journal)
	n.Poller = health.NewPoller(pc, judge, sampler)
	n.Handlers = health.NewHandlers(n.Poller)
	metrics.Watch(n.Metrics, n.Poller, n.Handlers, domain)
	return n
}

// mux serves the probes, the admin API behind the tokens, /metrics and
// the journal, then extra (a mode's or a command's own routes).
func (n *node[S]) mux(extra ...httpserver.Routes) *http.ServeMux {
	routes := []httpserver.Routes{n.Handlers, admin(n.Handlers, n.tokens, n.logger), n.Metrics.Routes(), n.Journal.Routes()}
	return httpserver.NewMux(append(routes, extra...)...)
}

// serve runs the endpoints until ctx ends: mux on the HTTP listener, the
// agent check and the notifier over the poller (each notification counted
// in the metrics and the journal).
func (n *node[S]) serve(ctx context.Context, eps *endpoints, mux http.Handler) error {
	return eps.serve(ctx, mux, counted[S]{n.Poller, n.Metrics, n.Journal}, n.logger)
}

// stopped records the end of the sentinel in the journal and flushes it.
func (n *node[S]) stopped(err error) { stopped(n.Journal, err) }
