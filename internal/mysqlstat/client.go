// Package mysqlstat holds the connections through which the sentinel
// watches mariadbd, and reads what the readiness policies need through
// them (wsrep status and variables as galera.Sample; a replica's state as
// replica.Sample). Each connection is one Client. There is one to the
// local server, which every read of it goes through; an asynchronous
// replica's ReplicaSampler opens one more, to its primary, and only to
// read the primary's position for the lag. It writes one thing: on a
// primary with the heartbeat on, the heartbeat row, through the local
// connection. It must not judge what it reads (verdicts are the domain
// packages' and readiness's), change a server otherwise (that is
// replops's), or open any connection but these.
//
// A Client's promises: never more than one connection open and one
// attempt in flight; every Sample call returns within its context; and a
// connection attempt is never abandoned in the middle of the MySQL
// handshake just because one poll ran out of time. Abandoning handshakes
// is what makes the server count aborted connects against the sentinel's
// address and, past max_connect_errors, block it (error 1129). A stalled
// attempt is instead left to finish in the background, bounded by a much
// longer hard limit, and the poll reports the stall.
package mysqlstat

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlconn"
)

// Config says how to reach mariadbd.
type Config struct {
	// Addr is host:port, or the path of a unix socket (anything that
	// contains a slash).
	Addr     string
	User     string
	Password string
	// ConnectLimit bounds one connection attempt (TCP connect, handshake,
	// authentication) as a whole. It is deliberately much longer than a
	// poll: see the package documentation.
	ConnectLimit time.Duration
	// StatementTimeout is passed to the server as max_statement_time so
	// that it gives up on a query the sentinel has stopped waiting for.
	StatementTimeout time.Duration
}

// ErrConnecting is returned (wrapped) when a poll ends while a connection
// attempt is still under way.
var ErrConnecting = errors.New("still connecting")

// Client samples one mariadbd. It is safe for one goroutine at a time (the
// poller); Close may be called from any goroutine.
type Client struct {
	cfg       Config
	connector driver.Connector
	hard      context.Context // cancelled by Close; parent of every attempt
	stop      context.CancelFunc

	// turn lets one Read at a time use the connection: the poller's
	// sample and the drain's process list share it, and one connection
	// carries one statement at a time.
	turn chan struct{}

	mu      sync.Mutex
	conn    driver.Conn
	dialing chan dialResult // non-nil while an attempt is in flight
	dialAt  time.Time
	closed  bool
}

type dialResult struct {
	conn driver.Conn
	err  error
}

// New prepares a client; it does not connect.
func New(cfg Config) (*Client, error) {
	if cfg.ConnectLimit <= 0 {
		cfg.ConnectLimit = 60 * time.Second
	}
	// The shared driver settings, and this connection's own bounds: the
	// dial as a whole by ConnectLimit (see the package documentation), no
	// read timeout (each Read's context bounds it, and the server gives up
	// by max_statement_time).
	mc := mysqlconn.Config(cfg.Addr, cfg.User, cfg.Password)
	mc.Timeout = cfg.ConnectLimit
	if cfg.StatementTimeout > 0 {
		// max_statement_time is in seconds (a double).
		mc.Params = map[string]string{"max_statement_time": fmt.Sprintf("%.3f", cfg.StatementTimeout.Seconds())}
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysql config: %w", err)
	}
	hard, stop := context.WithCancel(context.Background())
	return &Client{cfg: cfg, connector: connector, hard: hard, stop: stop, turn: make(chan struct{}, 1)}, nil
}

// Close closes the connection and cancels an attempt in flight; the
// attempt's goroutine ends at once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	c.stop()
	if conn != nil {
		return conn.Close()
	}
	return nil
}

// Read connects if needed and runs f with a Querier on the one
// connection. It returns within ctx; when f fails the connection is
// dropped and the next call reconnects. Every reader of the node (the
// Galera sample, a replica's SHOW REPLICA STATUS, the drain's process
// list) goes through Read, so there is never a second connection; Reads
// from several goroutines take turns.
func (c *Client) Read(ctx context.Context, f func(q Querier) error) error {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the connection: %w", ctx.Err())
	}
	defer func() { <-c.turn }()
	conn, err := c.get(ctx)
	if err != nil {
		return err
	}
	if err := f(Querier{ctx: ctx, conn: conn}); err != nil {
		c.drop(conn)
		return err
	}
	return nil
}

// Sample reads a Galera node's status: the wsrep status and variables the
// policy needs.
func (c *Client) Sample(ctx context.Context) (galera.Sample, error) {
	var s galera.Sample
	err := c.Read(ctx, func(q Querier) error {
		var err error
		s, err = readSample(q)
		return err
	})
	return s, err
}

// get returns the open connection, or waits (within ctx) for the attempt
// in flight, starting one if there is none.
func (c *Client) get(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("client closed")
	}
	if c.conn != nil {
		conn := c.conn
		c.mu.Unlock()
		return conn, nil
	}
	if c.dialing == nil {
		ch := make(chan dialResult, 1) // buffered: the attempt never blocks on us
		c.dialing, c.dialAt = ch, time.Now()
		go func() {
			conn, err := c.connector.Connect(c.hard)
			ch <- dialResult{conn, err}
		}()
	}
	ch, since := c.dialing, c.dialAt
	c.mu.Unlock()

	select {
	case r := <-ch:
		c.mu.Lock()
		c.dialing = nil
		if r.err == nil && c.closed {
			r.conn.Close()
			r.err = errors.New("client closed")
		}
		if r.err == nil {
			c.conn = r.conn
		}
		c.mu.Unlock()
		if r.err != nil {
			return nil, fmt.Errorf("connect %s: %w", c.cfg.Addr, r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("connect %s: %w for %.1fs (no answer yet to TCP connect, handshake or authentication)",
			c.cfg.Addr, ErrConnecting, time.Since(since).Seconds())
	}
}

func (c *Client) drop(conn driver.Conn) {
	c.mu.Lock()
	if c.conn == conn {
		c.conn = nil
	}
	c.mu.Unlock()
	conn.Close()
}

// statusNames are the status variables a Sample reads.
var statusNames = []string{
	"wsrep_ready", "wsrep_connected", "wsrep_cluster_status", "wsrep_local_state",
	"wsrep_local_index", "wsrep_cluster_size", "wsrep_cluster_state_uuid", "wsrep_last_committed",
	"threads_connected",
	// For metrics only (galera.Stats).
	"wsrep_cluster_conf_id", "wsrep_local_recv_queue", "wsrep_local_send_queue", "wsrep_local_cert_failures",
	"wsrep_local_bf_aborts", "wsrep_flow_control_paused_ns", "wsrep_flow_control_sent", "wsrep_flow_control_recv",
	"wsrep_replicated_bytes", "wsrep_received_bytes", "wsrep_evs_repl_latency",
	"wsrep_provider_version",
}

// variableNames are the system variables a Sample reads.
var variableNames = []string{
	"wsrep_on", "wsrep_desync", "wsrep_reject_queries", "read_only",
	"wsrep_sst_donor_rejects_queries", "wsrep_node_name",
	"wsrep_provider_options", // gcache.size, for metrics
	"version",                // for status and metrics
}

// SHOW works in every wsrep state, even non-Primary where SELECT does not,
// and needs no privilege beyond USAGE.
var (
	statusQuery   = "SHOW GLOBAL STATUS WHERE Variable_name IN ('" + strings.Join(statusNames, "','") + "')"
	variableQuery = "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('" + strings.Join(variableNames, "','") + "')"
)

func readSample(q Querier) (galera.Sample, error) {
	status, err := q.Pairs(statusQuery)
	if err != nil {
		return galera.Sample{}, fmt.Errorf("show status: %w", err)
	}
	vars, err := q.Pairs(variableQuery)
	if err != nil {
		return galera.Sample{}, fmt.Errorf("show variables: %w", err)
	}
	return ParseSample(status, vars, time.Now())
}

// Querier runs queries on the client's connection, bounded by the context
// of the Read that handed it out. It is valid only inside that Read.
type Querier struct {
	ctx  context.Context
	conn driver.Conn
}

// Pairs runs a query whose rows are name/value pairs (SHOW STATUS, SHOW
// VARIABLES) and returns them keyed by lower-cased name.
func (q Querier) Pairs(query string) (map[string]string, error) {
	out := map[string]string{}
	err := q.each(query, func(cols []string, row []driver.Value) error {
		if len(cols) != 2 {
			return fmt.Errorf("%d columns, want 2", len(cols))
		}
		out[strings.ToLower(asString(row[0]))] = asString(row[1])
		return nil
	})
	return out, err
}

// Row runs a query that returns at most one wide row (SHOW REPLICA
// STATUS on a server with one replication source) and returns it keyed by
// column name. No row is a nil map and no error; more than one row is an
// error, since the caller would not know which to believe.
func (q Querier) Row(query string) (map[string]string, error) {
	var out map[string]string
	err := q.each(query, func(cols []string, row []driver.Value) error {
		if out != nil {
			return errors.New("more than one row")
		}
		out = make(map[string]string, len(cols))
		for i, c := range cols {
			out[c] = asString(row[i])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (q Querier) each(query string, f func(cols []string, row []driver.Value) error) error {
	qc, ok := q.conn.(driver.QueryerContext)
	if !ok {
		return errors.New("driver does not support QueryContext")
	}
	rows, err := qc.QueryContext(q.ctx, query, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols := rows.Columns()
	dest := make([]driver.Value, len(cols))
	for {
		if err := rows.Next(dest); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := f(cols, dest); err != nil {
			return err
		}
	}
}

func asString(v driver.Value) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}
