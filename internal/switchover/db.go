package switchover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/mysqlconn"
	"github.com/galera-sentinel/galera-sentinel/internal/replops"
)

// Open is the steps' connection pool to the local server at addr
// (host:port, or a unix socket path): mysqlconn.Pool, at most two
// connections, opened when a step runs (never by the poller), each dial
// bounded by timeout and each statement by its step's context (promote's
// MASTER_GTID_WAIT may take minutes). The account needs the privileges of
// DB's comment.
func Open(addr, user, password string, timeout time.Duration) (*sql.DB, error) {
	db, err := mysqlconn.Pool(addr, user, password, timeout)
	if err != nil {
		return nil, fmt.Errorf("switchover connection: %w", err)
	}
	return db, nil
}

// DB is the local server's operations over a connection pool whose
// account may change read_only and replication (SUPER, or READ_ONLY
// ADMIN, REPLICATION SLAVE ADMIN and SLAVE MONITOR; docs/replication.md).
// Every statement is bounded by the context it is given.
type DB struct {
	DB *sql.DB
	// ReplicationUser and ReplicationPassword are the account a server
	// that has no replica row yet (a demoted primary) connects to its new
	// primary with. A server that already replicates keeps its own.
	ReplicationUser, ReplicationPassword string
}

var _ Server = (*DB)(nil)

// State reads read_only, the GTID positions and the replica row.
func (d *DB) State(ctx context.Context) (State, error) {
	p, err := replops.Read(ctx, d.DB)
	if err != nil {
		return State{}, err
	}
	return State{ReadOnly: p.ReadOnly, HasReplica: p.HasReplica, MasterHost: p.MasterHost, MasterPort: p.MasterPort,
		BinlogPos: p.BinlogPos, SlavePos: p.SlavePos}, nil
}

// Demote sets read_only=ON, which waits for the commits in progress, then
// reads gtid_binlog_pos: every write acknowledged before is within it.
// Accounts with READ_ONLY ADMIN can still write afterwards (on 10.11 SUPER
// no longer can); applications must not use one.
func (d *DB) Demote(ctx context.Context) (string, error) { return replops.Demote(ctx, d.DB) }

// WaitGTID is MASTER_GTID_WAIT(pos, timeout).
func (d *DB) WaitGTID(ctx context.Context, pos string, timeout time.Duration) error {
	err := replops.WaitGTID(ctx, d.DB, pos, timeout)
	if errors.Is(err, replops.ErrGTIDWaitTimeout) {
		return fmt.Errorf("%w: %w", ErrWaitTimeout, err)
	}
	return err
}

// Promote: STOP SLAVE, RESET SLAVE ALL, read_only=OFF.
func (d *DB) Promote(ctx context.Context) error { return replops.Promote(ctx, d.DB) }

// SetSlavePos sets gtid_slave_pos (pos as replica.GTIDList.String writes it).
func (d *DB) SetSlavePos(ctx context.Context, pos string) error {
	return replops.SetSlavePos(ctx, d.DB, pos)
}

// Follow makes the server a read-only replica of p with
// MASTER_USE_GTID=slave_pos, with the sentinel's replication account.
func (d *DB) Follow(ctx context.Context, p Primary) error {
	if err := d.CanFollow(); err != nil {
		return err
	}
	if err := replops.SetReadOnly(ctx, d.DB, true); err != nil {
		return err
	}
	return replops.Follow(ctx, d.DB, replops.Primary{Host: p.Host, Port: p.Port, User: d.ReplicationUser, Password: d.ReplicationPassword})
}

// CanFollow: a server is repointed with the sentinel's replication
// account.
func (d *DB) CanFollow() error {
	if d.ReplicationUser == "" || d.ReplicationPassword == "" {
		return errors.New("the sentinel has no replication account to follow with: start it with --replication-user and --replication-password-file (or " +
			"GALERA_SENTINEL_REPLICATION_PASSWORD)")
	}
	return nil
}
