package sessions

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestClient(t *testing.T) {
	for _, tc := range []struct {
		s    Session
		want bool
	}{
		{Session{User: "app", Host: "10.0.0.7:51234", Command: "Sleep"}, true},
		{Session{User: "app", Host: "127.0.0.1:40000", Command: "Query"}, true}, // HAProxy on the same host
		{Session{User: "app", Host: "[fd00::7]:40000", Command: "Sleep"}, true},
		{Session{User: "mysql", Host: "localhost", Command: "Sleep"}, false}, // the unix socket: local
		{Session{User: "app", Host: "10.0.0.7:51234", Own: true}, false},
		{Session{User: "system user", Host: "", Command: "Sleep"}, false},
		{Session{User: "event_scheduler", Host: "localhost", Command: "Daemon"}, false},
		{Session{User: "unauthenticated user", Host: "10.0.0.7:5", Command: "Connect"}, false},
		{Session{User: "repl", Host: "10.0.0.8:3306", Command: "Binlog Dump"}, false},
		{Session{User: "repl", Host: "10.0.0.8:3306", Command: "Binlog Dump GTID"}, false},
		{Session{User: "system user", Command: "Slave_SQL"}, false},
		{Session{User: "app", Host: "", Command: "Sleep"}, false},
	} {
		if got := Client(tc.s); got != tc.want {
			t.Errorf("Client(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestBetweenTransactions(t *testing.T) {
	for _, tc := range []struct {
		s    Session
		want bool
	}{
		{Session{Command: "Sleep", Idle: 2 * time.Second}, true},
		{Session{Command: "Sleep", Idle: time.Second}, true},
		{Session{Command: "Sleep", Idle: 999 * time.Millisecond}, false}, // maybe between BEGIN and INSERT
		{Session{Command: "Sleep", Idle: time.Hour, InTrx: true}, false}, // a transaction left open
		{Session{Command: "Query", Idle: time.Hour}, false},              // a statement running
	} {
		if got := BetweenTransactions(tc.s, time.Second); got != tc.want {
			t.Errorf("BetweenTransactions(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// server is a process list in memory. busyNow are sessions that started
// a statement after the list was read: KillIdle finds them busy.
type server struct {
	list    []Session
	killed  []int64
	killErr error
	busyNow map[int64]bool
}

func (s *server) KillIdle(ctx context.Context, id int64, _ time.Duration) (bool, error) {
	if s.busyNow[id] {
		return false, nil
	}
	return true, s.Kill(ctx, id)
}

func (s *server) Sessions(context.Context) ([]Session, error) { return s.list, nil }
func (s *server) Kill(_ context.Context, id int64) error {
	if s.killErr != nil {
		return s.killErr
	}
	s.killed = append(s.killed, id)
	return nil
}

func TestCloser(t *testing.T) {
	list := []Session{
		{ID: 1, User: "mysql", Host: "localhost", Command: "Sleep", Idle: time.Hour},            // local
		{ID: 2, User: "app", Host: "10.0.0.7:1", Command: "Sleep", Idle: 5 * time.Second},       // idle: closed
		{ID: 3, User: "app", Host: "10.0.0.7:2", Command: "Sleep", Idle: 10 * time.Millisecond}, // busy: left
		{ID: 4, User: "app", Host: "10.0.0.7:3", Command: "Sleep", Idle: time.Minute, InTrx: true},
		{ID: 5, User: "app", Host: "10.0.0.7:4", Command: "Query", Idle: 3 * time.Second},
		{ID: 6, User: "system user", Command: "Sleep", Idle: time.Hour},
		{ID: 7, User: "app", Host: "10.0.0.7:5", Command: "Sleep", Idle: 2 * time.Second, Own: true},
	}
	srv := &server{list: list}
	c := &Closer{Server: srv}
	closed, left, err := c.CloseIdle(context.Background())
	if err != nil || closed != 1 || left != 3 || len(srv.killed) != 1 || srv.killed[0] != 2 {
		t.Errorf("CloseIdle: closed %d, left %d, killed %v, %v; want 1, 3, [2]", closed, left, srv.killed, err)
	}
	// A session the list showed idle that started its next transaction
	// since: mariadbd's own check leaves it.
	srv.killed, srv.busyNow = nil, map[int64]bool{2: true}
	closed, left, err = c.CloseIdle(context.Background())
	if err != nil || closed != 0 || left != 4 || len(srv.killed) != 0 {
		t.Errorf("CloseIdle of a session busy again: closed %d, left %d, killed %v, %v; want 0, 4, none", closed, left, srv.killed, err)
	}
	srv.killed, srv.busyNow = nil, nil
	n, err := c.CutAll(context.Background())
	if err != nil || n != 4 || len(srv.killed) != 4 {
		t.Errorf("CutAll: %d, killed %v, %v; want 4 (2 3 4 5)", n, srv.killed, err)
	}
	srv.killErr = errors.New("Error 1095: You are not owner of thread 2")
	if _, _, err := c.CloseIdle(context.Background()); err == nil || !strings.Contains(err.Error(), "session 2 (app from 10.0.0.7)") {
		t.Errorf("CloseIdle with KILL refused: %v, want the session named", err)
	}
}
