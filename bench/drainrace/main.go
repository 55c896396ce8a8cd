// Command drainrace measures the check-then-close race of a drain that
// closes pooled client sessions "between transactions" from outside the
// data path (issue 22): a Go database/sql pool (go-sql-driver/mysql, the
// driver's liveness check on reuse) runs BEGIN; INSERT; COMMIT in a loop,
// while a closer picks sessions the way a drain could and ends them with
// KILL CONNECTION. It prints, per strategy, the sessions closed, the
// transactions that failed, and failed per close. It is not part of the
// product; bench/drain-race.sh runs it against a throwaway mariadbd.
//
//	drainrace -app 'race@tcp(127.0.0.1:3306)/drainrace' -admin 'root@unix(/run/mysqld/mysqld.sock)/' -for 10s
//
// The DSNs carry no password: the script's accounts have none (a
// throwaway server on a loopback address).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

type strategy struct {
	name string
	// pool and workers: a pool with spare connections has idle ones.
	pool, workers int
	// lifetime is the pool's ConnMaxLifetime (0: none).
	lifetime time.Duration
	// minIdle is how long a session must have been in Sleep to be
	// closed; negative: close none.
	minIdle time.Duration
	// every paces the closer.
	every time.Duration
	// pause is what a worker waits between its transactions.
	pause time.Duration
	// checked: mariadbd checks the session is still idle in the same
	// statement as the KILL (what the drain does), rather than the
	// closer acting on the process list it read a moment before.
	checked bool
}

type result struct {
	closes, ok, failed int64
	lifetimeClosed     int64
	errs               map[string]int
}

func main() {
	appDSN := flag.String("app", "", "the pool's DSN (go-sql-driver form), a user of its own")
	adminDSN := flag.String("admin", "", "the closer's DSN, a user with the PROCESS and CONNECTION ADMIN privileges")
	dur := flag.Duration("for", 10*time.Second, "how long each strategy runs")
	only := flag.String("only", "", "run only the strategies whose name contains this")
	flag.Parse()
	if *appDSN == "" || *adminDSN == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: drainrace -app DSN -admin DSN [-for 10s] [-only NAME]")
		os.Exit(2)
	}
	// Every error is counted here; the driver's own log of cut
	// connections would bury the figures.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	appCfg, err := mysql.ParseDSN(*appDSN)
	if err != nil {
		fail("-app: %v", err)
	}
	admin, err := sql.Open("mysql", *adminDSN)
	if err != nil {
		fail("-admin: %v", err)
	}
	admin.SetMaxOpenConns(2)
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS drainrace.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, w INT NOT NULL)"); err != nil {
		fail("create the table: %v", err)
	}

	strategies := []strategy{
		{name: "busy pool (4 of 4), close any session in Sleep", pool: 4, workers: 4, minIdle: 0, every: 50 * time.Millisecond},
		{name: "busy pool (4 of 4), close sessions in Sleep >= 50ms", pool: 4, workers: 4, minIdle: 50 * time.Millisecond, every: 50 * time.Millisecond},
		{name: "pool pausing 1.5s between writes, close Sleep >= 1s", pool: 4, workers: 4, minIdle: time.Second, every: 250 * time.Millisecond, pause: 1500 * time.Millisecond},
		{name: "busy pool (4 of 4), close Sleep >= 50ms, checked", pool: 4, workers: 4, minIdle: 50 * time.Millisecond, every: 50 * time.Millisecond, checked: true},
		{name: "pool pausing 1.5s between writes, close Sleep >= 1s, checked", pool: 4, workers: 4, minIdle: time.Second, every: 250 * time.Millisecond, pause: 1500 * time.Millisecond, checked: true},
		{name: "busy pool (4 of 4), ConnMaxLifetime 1s, no closes", pool: 4, workers: 4, lifetime: time.Second, minIdle: -1, every: 50 * time.Millisecond},
	}
	fmt.Printf("drainrace: %s per strategy; go-sql-driver/mysql, BEGIN; INSERT; COMMIT in a loop; closes by KILL CONNECTION\n\n", *dur)
	fmt.Printf("%-56s %8s %10s %8s %12s %10s\n", "strategy", "closes", "committed", "failed", "failed/close", "rotated")
	for _, s := range strategies {
		if *only != "" && !strings.Contains(s.name, *only) {
			continue
		}
		r := run(ctx, s, appCfg, admin, *dur)
		ratio := "-"
		if r.closes > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.failed)/float64(r.closes))
		}
		fmt.Printf("%-56s %8d %10d %8d %12s %10d\n", s.name, r.closes, r.ok, r.failed, ratio, r.lifetimeClosed)
		var kinds []string
		for e, n := range r.errs {
			kinds = append(kinds, fmt.Sprintf("%6d  %s", n, e))
		}
		sort.Sort(sort.Reverse(sort.StringSlice(kinds)))
		for _, k := range kinds {
			fmt.Printf("    %s\n", k)
		}
	}
}

func run(ctx context.Context, s strategy, appCfg *mysql.Config, admin *sql.DB, dur time.Duration) result {
	conn, err := mysql.NewConnector(appCfg)
	if err != nil {
		fail("app connector: %v", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(s.pool)
	db.SetMaxIdleConns(s.pool)
	db.SetConnMaxLifetime(s.lifetime)

	var ok, failed atomic.Int64
	var mu sync.Mutex
	errs := map[string]int{}
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < s.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for ctx.Err() == nil {
				err := txn(ctx, db, w)
				if s.pause > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(s.pause):
					}
				}
				switch {
				case err == nil:
					ok.Add(1)
				case ctx.Err() != nil:
				default:
					failed.Add(1)
					mu.Lock()
					errs[kind(err)]++
					mu.Unlock()
				}
			}
		}(w)
	}
	var closes int64
	if s.minIdle >= 0 {
		closes = closer(ctx, admin, appCfg.User, s.minIdle, s.every, s.checked)
	} else {
		<-ctx.Done()
	}
	wg.Wait()
	return result{closes: closes, ok: ok.Load(), failed: failed.Load(), lifetimeClosed: db.Stats().MaxLifetimeClosed, errs: errs}
}

// txn is one transaction as an application writes it with database/sql.
func txn(ctx context.Context, db *sql.DB, w int) error {
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := tx.Exec("INSERT INTO drainrace.t (w) VALUES (?)", w); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("insert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// closer ends, every tick, one session of user that has been in Sleep
// for at least minIdle, and returns how many it ended.
func closer(ctx context.Context, admin *sql.DB, user string, minIdle, every time.Duration, checked bool) int64 {
	var n int64
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
		}
		var id int64
		err := admin.QueryRowContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ? AND COMMAND = 'Sleep' AND TIME_MS >= ? ORDER BY TIME_MS DESC LIMIT 1",
			user, float64(minIdle)/float64(time.Millisecond)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			fail("processlist: %v", err)
		}
		if !checked {
			if _, err := admin.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
				n++
			}
			continue
		}
		conn, err := admin.Conn(ctx)
		if err != nil {
			continue
		}
		ms := minIdle.Milliseconds()
		_, err = conn.ExecContext(ctx, fmt.Sprintf(`BEGIN NOT ATOMIC
 IF EXISTS (SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = %[1]d AND COMMAND = 'Sleep' AND TIME_MS >= %[2]d)
  AND NOT EXISTS (SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = %[1]d) THEN
  KILL CONNECTION %[1]d; SET @killed = 1;
 ELSE SET @killed = 0; END IF;
END`, id, ms))
		var killed int
		if err == nil && conn.QueryRowContext(ctx, "SELECT @killed").Scan(&killed) == nil && killed == 1 {
			n++
		}
		conn.Close()
	}
}

// kind is an error without its variable parts, to count by.
func kind(err error) string {
	s := err.Error()
	if i := strings.Index(s, "Error "); i >= 0 {
		if j := strings.Index(s[i:], ":"); j > 0 {
			return s[:i+j]
		}
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "drainrace: "+format+"\n", args...)
	os.Exit(1)
}
