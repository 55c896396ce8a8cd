package replops

import (
	"context"
	"database/sql"
	"time"
)

// Conn is a server's pool with the statements of this package as
// methods: what run mode's replication member holds through an interface
// of its own, so that its lifecycle is tested without a server.
type Conn struct{ DB *sql.DB }

// Dial is Open as a Conn.
func Dial(addr, user, password string, timeout time.Duration) (*Conn, error) {
	db, err := Open(addr, user, password, timeout)
	if err != nil {
		return nil, err
	}
	return &Conn{DB: db}, nil
}

func (c *Conn) Ping(ctx context.Context) error              { return c.DB.PingContext(ctx) }
func (c *Conn) Read(ctx context.Context) (Positions, error) { return Read(ctx, c.DB) }
func (c *Conn) SetReadOnly(ctx context.Context, on bool) error {
	return SetReadOnly(ctx, c.DB, on)
}
func (c *Conn) EnsureReplicationUser(ctx context.Context, user, password string) error {
	return EnsureReplicationUser(ctx, c.DB, user, password)
}
func (c *Conn) Follow(ctx context.Context, p Primary) error       { return Follow(ctx, c.DB, p) }
func (c *Conn) SetSlavePos(ctx context.Context, pos string) error { return SetSlavePos(ctx, c.DB, pos) }
func (c *Conn) Close() error                                      { return c.DB.Close() }
