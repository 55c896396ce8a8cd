package testsentinel

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	stdlog "log"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

func init() {
	// The writers count every error themselves; the driver's own log of
	// cut connections would only bury the test output.
	_ = mysql.SetLogger(stdlog.New(io.Discard, "", 0))
}

// WriteLog is what the writers of StartWriters saw: every acknowledged row
// and every failed transaction. Hold Mu to read it while they run.
type WriteLog struct {
	Mu       sync.Mutex
	Acked    []int64
	AckedAt  []time.Time // when each acknowledged COMMIT returned
	Failures int
	Errs     map[string]int // error text -> count
	// errAt are the first and last time each error text was seen.
	errAt map[string][2]time.Time
	// Missing counts acknowledged rows absent from a member at the end,
	// summed over the members (CheckAcked sets it).
	Missing int
}

func (w *WriteLog) fail(err error) {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	w.Failures++
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	w.Errs[msg]++
	if w.errAt == nil {
		w.errAt = map[string][2]time.Time{}
	}
	now := time.Now()
	at, seen := w.errAt[msg]
	if !seen {
		at[0] = now
	}
	at[1] = now
	w.errAt[msg] = at
}

// Summary is one line per distinct error, with its count and when it was
// first and last seen (to match against the sentinels' logs).
func (w *WriteLog) Summary() string {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	var lines []string
	for msg, n := range w.Errs {
		at := w.errAt[msg]
		lines = append(lines, fmt.Sprintf("%5d × %s (%s to %s)", n, msg, at[0].Format("15:04:05.000"), at[1].Format("15:04:05.000")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// LongestGap is the longest time without an acknowledged commit between
// from and to, as the clients saw it.
func (w *WriteLog) LongestGap(from, to time.Time) time.Duration {
	w.Mu.Lock()
	defer w.Mu.Unlock()
	var longest time.Duration
	prev := from
	for _, at := range w.AckedAt {
		if at.Before(from) || at.After(to) {
			continue
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return max(longest, to.Sub(prev))
}

var writerSets atomic.Int64

// StartWriters runs n clients that write into ops.t through addr until
// ctx ends, each transaction on a connection of its own (connect, BEGIN,
// INSERT, COMMIT, close), as a PHP application or a short-lived job does.
// Every transaction is either acknowledged (COMMIT returned OK) or a
// failure. The returned function waits for the writers to end. OpsCluster
// creates the table and the account.
func StartWriters(ctx context.Context, t testing.TB, addr string, n int) (*WriteLog, func()) {
	log := &WriteLog{Errs: map[string]int{}}
	// Ids of their own for every set of writers of a test.
	base := writerSets.Add(1) * 1_000_000_000
	var wg sync.WaitGroup
	for w := range n {
		db := appDB(t, addr)
		db.SetMaxIdleConns(0) // a new connection for every transaction
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer db.Close()
			for seq := int64(1); ctx.Err() == nil; seq++ {
				log.record(writeOne(db, base+int64(w)*10_000_000+seq, w))
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return log, wg.Wait
}

// PoolOptions is how a pooled client uses its connections.
type PoolOptions struct {
	// Workers share one pool of at most Pool connections, kept open.
	Workers, Pool int
	// Lifetime is the pool's maximum connection lifetime
	// (db.SetConnMaxLifetime); 0: connections live for ever.
	Lifetime time.Duration
	// Pause is what a worker waits between its transactions.
	Pause time.Duration
	// Hold keeps each transaction open this long after its INSERT (DO
	// SLEEP): a session cut from outside is then most likely cut inside
	// a transaction, where no pool can hide it (a control's failures).
	Hold time.Duration
}

// StartPoolWriters runs a client that keeps long-lived pooled connections,
// as an application with Go's database/sql does: o.Workers goroutines
// writing into ops.t through one pool, BEGIN, INSERT, COMMIT, the driver's
// default liveness check on reuse. Failures and acknowledgements as
// StartWriters.
func StartPoolWriters(ctx context.Context, t testing.TB, addr string, o PoolOptions) (*WriteLog, func()) {
	log := &WriteLog{Errs: map[string]int{}}
	base := writerSets.Add(1) * 1_000_000_000
	db := appDB(t, addr)
	db.SetMaxOpenConns(o.Pool)
	db.SetMaxIdleConns(o.Pool)
	db.SetConnMaxLifetime(o.Lifetime)
	var wg sync.WaitGroup
	for w := range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := int64(1); ctx.Err() == nil; seq++ {
				log.record(writeHeld(db, base+int64(w)*10_000_000+seq, w, o.Hold))
				time.Sleep(o.Pause)
			}
		}()
	}
	return log, func() { wg.Wait(); db.Close() }
}

// appDB is a pool of the app account through addr.
func appDB(t testing.TB, addr string) *sql.DB {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "app", "app-password", "tcp", addr, "ops"
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = 3*time.Second, 10*time.Second, 10*time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sql.OpenDB(connector)
}

// writeOne is one transaction: BEGIN, INSERT of row id, COMMIT. A
// failure says at which step ("begin: ", "insert: ", "commit: "): a
// session closed between transactions fails the next BEGIN at worst.
func writeOne(db *sql.DB, id int64, w int) (int64, error) { return writeHeld(db, id, w, 0) }

func writeHeld(db *sql.DB, id int64, w int, hold time.Duration) (int64, error) {
	tctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tx, err := db.BeginTx(tctx, nil)
	if err != nil {
		return id, fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.ExecContext(tctx, "INSERT INTO t (id, writer) VALUES (?, ?)", id, w); err != nil {
		tx.Rollback()
		return id, fmt.Errorf("insert: %w", err)
	}
	if hold > 0 {
		if _, err := tx.ExecContext(tctx, "DO SLEEP(?)", hold.Seconds()); err != nil {
			tx.Rollback()
			return id, fmt.Errorf("hold: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return id, fmt.Errorf("commit: %w", err)
	}
	return id, nil
}

// NewWriteLog is an empty log, for writers of a test's own.
func NewWriteLog() *WriteLog { return &WriteLog{Errs: map[string]int{}} }

// Record counts one transaction's outcome: row id acknowledged, or err.
func (w *WriteLog) Record(id int64, err error) { w.record(id, err) }

// record counts one transaction's outcome.
func (w *WriteLog) record(id int64, err error) {
	if err != nil {
		w.fail(err)
		return
	}
	w.Mu.Lock()
	w.Acked = append(w.Acked, id)
	w.AckedAt = append(w.AckedAt, time.Now())
	w.Mu.Unlock()
}

// OpsCluster starts a 3-member cluster under run, with extra flags, and
// the ops.t table and the app user the writers use.
func OpsCluster(ctx context.Context, t *testing.T, flags func(n *testcluster.Node) []string) *RunCluster {
	rc := NewRunCluster(t, testcluster.Options{Nodes: 3})
	rc.WithFlags(flags)
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	n1 := rc.C.Nodes[0]
	if err := n1.Exec(ctx, "CREATE DATABASE ops", "CREATE TABLE ops.t (id BIGINT PRIMARY KEY, writer INT NOT NULL)",
		"CREATE USER app@'%' IDENTIFIED BY 'app-password'", "GRANT ALL ON ops.* TO app@'%'"); err != nil {
		t.Fatal(err)
	}
	for _, n := range rc.C.Nodes {
		if err := n.WaitFor(ctx, "the ops table", func(testcluster.Status) bool {
			c, err := n.QueryInt(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='ops'")
			return err == nil && c == 1
		}); err != nil {
			t.Fatal(err)
		}
		// The harness's own pool would count as clients in the drain.
		n.CloseDB()
	}
	return rc
}

// CheckAcked checks that every acknowledged row is on every member,
// counting the missing ones into log.Missing.
func CheckAcked(ctx context.Context, t testing.TB, rc *RunCluster, log *WriteLog) {
	t.Helper()
	log.Mu.Lock()
	acked := slices.Clone(log.Acked)
	log.Mu.Unlock()
	t.Logf("%d transactions acknowledged, %d failed", len(acked), log.Failures)
	if len(acked) < 100 {
		t.Fatalf("only %d transactions acknowledged: the writers did not really run", len(acked))
	}
	for _, n := range rc.C.Nodes {
		have, err := ackedIDs(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		missing := 0
		for _, id := range acked {
			if !have[id] {
				missing++
			}
		}
		log.Missing += missing
		if missing > 0 {
			t.Logf("%s: %d of %d acknowledged rows missing", n.Name, missing, len(acked))
		}
	}
}

// ackedIDs reads every id on n with causal reads (wsrep_sync_wait=1): the
// member first applies everything the cluster committed before the read,
// so a writeset still in its apply queue is not taken for a lost row.
func ackedIDs(ctx context.Context, n *testcluster.Node) (map[int64]bool, error) {
	conn, err := n.DB().Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait=1"); err != nil {
		return nil, err
	}
	rows, err := conn.QueryContext(ctx, "SELECT id FROM ops.t")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		have[id] = true
	}
	return have, rows.Err()
}
