package main

import (
	"log/slog"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// nodeConfig is what the node stack's base needs: the mode builds the
// rest (sentinel.Stack).
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

// openBase opens the journal (recording the start) and the metrics: the
// part of the node stack that does not depend on the mode. The caller
// ends with stopped.
func openBase(c nodeConfig, logger *slog.Logger) *sentinel.Base {
	b := &sentinel.Base{Instance: newInstanceID(), Metrics: newMetrics(), Tokens: c.Tokens, Logger: logger}
	b.Journal = openJournal(c.EventsFile, c.Name, b.Instance, c.Command, logger)
	return b
}

// kit is what a mode builds its node on, in serve and run: the base, the
// connection, and the common settings.
func (c *ServeConfig) kit(b *sentinel.Base, client *mysqlstat.Client) sentinel.Kit {
	return sentinel.Kit{Base: b, Client: client, Poller: c.poller(b.Logger, nil),
		Limits: readiness.Limits{MaxStaleness: c.MaxStaleness, LivenessGrace: c.LivenessGrace, ResumeSettle: readiness.DefaultResumeSettle}, MySQL: c.mysql()}
}
