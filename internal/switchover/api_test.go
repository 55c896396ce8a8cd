package switchover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "switchover-test-token-0123456789"

// fakeServer is a MariaDB server's replication state, changed by the
// steps as the real statements would.
type fakeServer struct {
	mu                  sync.Mutex
	st                  State
	waitReaches         bool          // MASTER_GTID_WAIT succeeds
	waitBlock           time.Duration // how long a wait takes
	failPromote, failSt error
	cannotFollow        error
	calls               []string
}

func (f *fakeServer) log(s string) { f.calls = append(f.calls, s) }

func (f *fakeServer) CanFollow() error { return f.cannotFollow }

func (f *fakeServer) State(context.Context) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st, f.failSt
}

func (f *fakeServer) Demote(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("demote")
	f.st.ReadOnly = true
	return f.st.BinlogPos, nil
}

func (f *fakeServer) WaitGTID(ctx context.Context, pos string, timeout time.Duration) error {
	f.mu.Lock()
	f.log("wait " + pos + " " + timeout.String())
	reaches, block := f.waitReaches, f.waitBlock
	f.mu.Unlock()
	select {
	case <-time.After(block):
	case <-ctx.Done():
		return ctx.Err()
	}
	if !reaches {
		return ErrWaitTimeout
	}
	f.mu.Lock()
	f.st.SlavePos, f.st.BinlogPos = pos, pos
	f.mu.Unlock()
	return nil
}

func (f *fakeServer) Promote(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("promote")
	if f.failPromote != nil {
		return f.failPromote
	}
	f.st.HasReplica, f.st.ReadOnly, f.st.MasterHost, f.st.MasterPort = false, false, "", 0
	return nil
}

func (f *fakeServer) SetSlavePos(_ context.Context, pos string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("slave_pos " + pos)
	f.st.SlavePos = pos
	return nil
}

func (f *fakeServer) Follow(_ context.Context, p Primary) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log(fmt.Sprintf("follow %s:%d", p.Host, p.Port))
	f.st.HasReplica, f.st.ReadOnly, f.st.MasterHost, f.st.MasterPort = true, true, p.Host, p.Port
	return nil
}

func post(t *testing.T, h http.Handler, path, token string) (int, Result) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var r Result
	if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusForbidden {
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("%s: %d %q: %v", path, rec.Code, rec.Body.String(), err)
		}
	}
	return rec.Code, r
}

func mux(srv Server) *http.ServeMux {
	m := http.NewServeMux()
	New(srv, Config{Token: testToken}).Register(m)
	return m
}

func TestAPIAuthAndInput(t *testing.T) {
	f := &fakeServer{st: State{ReadOnly: true, HasReplica: true, MasterHost: "db1", MasterPort: 3306, BinlogPos: "0-1-5", SlavePos: "0-1-5"}}
	h := mux(f)
	for _, tc := range []struct {
		path, token string
		code        int
		want        string
	}{
		{PathDemote, "", 401, ""},
		{PathDemote, "wrong-token-wrong-token", 403, ""},
		{PathDemote + "?force=1", testToken, 400, `unknown parameter "force"`},
		{PathDemote, testToken, 409, "this server is a replica (of db1:3306)"},
		{PathPromote + "?wait=banana", testToken, 400, `wait="banana"`},
		{PathPromote + "?wait=0-1-5&timeout=30", testToken, 400, `timeout="30": want a duration`},
		{PathPromote + "?wait=0-1-5&timeout=11m", testToken, 400, "at most 10m0s"},
		{PathPromote + "?wait=0-1-5&timeout=-1s", testToken, 400, "above 0"},
		{PathFollow, testToken, 400, "primary= is required"},
		{PathFollow + "?primary=db2:99999", testToken, 400, "port must be 1-65535"},
		{PathFollow + "?primary=db2%27x", testToken, 400, "bad host"},
		{PathFollow + "?primary=db2&check=yes", testToken, 400, `check="yes": want 1`},
		{PathFollow + "?primary=db2&check=1", testToken, 200, ""},
	} {
		code, r := post(t, h, tc.path, tc.token)
		if code != tc.code || !strings.Contains(r.Error, tc.want) {
			t.Errorf("POST %s: %d %q; want %d %q", tc.path, code, r.Error, tc.code, tc.want)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("bad requests changed the server: %v", f.calls)
	}
	// GET is not a step.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathDemote, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET demote: %d", rec.Code)
	}
	// Without a token the API is off.
	m := http.NewServeMux()
	New(f, Config{}).Register(m)
	if code, _ := post(t, m, PathDemote, testToken); code != http.StatusForbidden {
		t.Errorf("no token configured: %d", code)
	}
}

func TestAPIFollowCheckChangesNothing(t *testing.T) {
	f := &fakeServer{st: State{BinlogPos: "0-1-5"}, cannotFollow: errors.New("the sentinel has no replication account to follow with")}
	code, r := post(t, mux(f), PathFollow+"?primary=db2&check=1", testToken)
	if code != 409 || !strings.Contains(r.Error, "no replication account") {
		t.Errorf("check without an account: %d %q", code, r.Error)
	}
	if len(f.calls) != 0 {
		t.Errorf("the check called %q", f.calls)
	}
}

func TestAPISteps(t *testing.T) {
	t.Run("demote a primary", func(t *testing.T) {
		f := &fakeServer{st: State{BinlogPos: "0-1-42"}}
		code, r := post(t, mux(f), PathDemote, testToken)
		if code != 200 || r.GTIDBinlogPos != "0-1-42" || r.Already || !f.st.ReadOnly {
			t.Fatalf("%d %+v %+v", code, r, f.st)
		}
		// Again: idempotent, says so.
		if code, r := post(t, mux(f), PathDemote, testToken); code != 200 || !r.Already {
			t.Fatalf("again: %d %+v", code, r)
		}
	})
	t.Run("promote after the wait", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true, HasReplica: true, MasterHost: "db1", MasterPort: 3306, SlavePos: "0-1-40", BinlogPos: "0-1-40"}, waitReaches: true}
		code, r := post(t, mux(f), PathPromote+"?wait=0-1-42&timeout=5s", testToken)
		if code != 200 || r.GTIDBinlogPos != "0-1-42" || f.st.ReadOnly || f.st.HasReplica {
			t.Fatalf("%d %+v %+v", code, r, f.st)
		}
		if strings.Join(f.calls, ",") != "wait 0-1-42 5s,promote" {
			t.Fatalf("calls %v", f.calls)
		}
	})
	t.Run("wait times out: nothing changed", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true, HasReplica: true, SlavePos: "0-1-40"}}
		code, r := post(t, mux(f), PathPromote+"?wait=0-1-42&timeout=1s", testToken)
		if code != http.StatusGatewayTimeout || r.Changed || !strings.Contains(r.Error, "did not apply 0-1-42 within 1s; nothing changed") || !f.st.ReadOnly || !f.st.HasReplica {
			t.Fatalf("%d %+v %+v", code, r, f.st)
		}
	})
	t.Run("promote fails after stopping: changed", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true, HasReplica: true}, waitReaches: true, failPromote: errors.New("RESET SLAVE ALL: denied")}
		code, r := post(t, mux(f), PathPromote, testToken)
		if code != 500 || !r.Changed || !strings.Contains(r.Error, "denied") {
			t.Fatalf("%d %+v", code, r)
		}
	})
	t.Run("promote the demoted primary back (undo)", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true, BinlogPos: "0-1-42"}}
		if code, r := post(t, mux(f), PathPromote, testToken); code != 200 || f.st.ReadOnly {
			t.Fatalf("%d %+v", code, r)
		}
		if code, r := post(t, mux(f), PathPromote+"?wait=0-1-42", testToken); code != 200 || !r.Already {
			t.Fatalf("already primary: %d %+v", code, r)
		}
	})
	t.Run("a read-only server without replica cannot wait", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true}}
		if code, r := post(t, mux(f), PathPromote+"?wait=0-1-42", testToken); code != 409 || !strings.Contains(r.Error, "replicates from nobody") {
			t.Fatalf("%d %+v", code, r)
		}
	})
	t.Run("follow: a writable primary is refused", func(t *testing.T) {
		f := &fakeServer{st: State{BinlogPos: "0-1-42"}}
		if code, r := post(t, mux(f), PathFollow+"?primary=db2", testToken); code != 409 || !strings.Contains(r.Error, "demote it before") {
			t.Fatalf("%d %+v", code, r)
		}
	})
	t.Run("follow: the demoted primary takes its own history", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true, BinlogPos: "0-1-42", SlavePos: "0-2-10,1-3-4"}}
		code, r := post(t, mux(f), PathFollow+"?primary=db2", testToken)
		if code != 200 || r.Primary != "db2:3306" {
			t.Fatalf("%d %+v", code, r)
		}
		if got := strings.Join(f.calls, ","); got != "slave_pos 0-1-42,1-3-4,follow db2:3306" {
			t.Fatalf("calls %s", got)
		}
	})
	t.Run("follow: a replica keeps its slave position", func(t *testing.T) {
		f := &fakeServer{st: State{ReadOnly: true, HasReplica: true, MasterHost: "db1", MasterPort: 3306, SlavePos: "0-1-40"}}
		if code, _ := post(t, mux(f), PathFollow+"?primary=[fd00::2]:3307", testToken); code != 200 || strings.Join(f.calls, ",") != "follow fd00::2:3307" {
			t.Fatalf("%d %v", code, f.calls)
		}
	})
}

func TestAPIOneStepAtATime(t *testing.T) {
	f := &fakeServer{st: State{ReadOnly: true, HasReplica: true}, waitReaches: true, waitBlock: 300 * time.Millisecond}
	h := mux(f)
	done := make(chan int)
	go func() {
		code, _ := post(t, h, PathPromote+"?wait=0-1-1", testToken)
		done <- code
	}()
	time.Sleep(100 * time.Millisecond)
	code, r := post(t, h, PathFollow+"?primary=db2", testToken)
	if code != http.StatusConflict || !strings.Contains(r.Error, "another switchover step is running") {
		t.Fatalf("concurrent step: %d %+v", code, r)
	}
	if code := <-done; code != 200 {
		t.Fatalf("first step: %d", code)
	}
}
