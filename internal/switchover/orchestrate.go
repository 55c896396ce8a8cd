package switchover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// Caller is what the orchestration needs of a sentinel client
// (peer.Client): the open /status, and the token-protected steps.
type Caller interface {
	Get(ctx context.Context, addr, path string, v any) error
	Post(ctx context.Context, addr, path string, v any) error
}

// Clients: Call for /status, demote and follow (the ordinary timeout),
// Promote for the promote step, whose answer waits for the catch-up.
type Clients struct {
	Call, Promote Caller
}

// Options of one switchover.
type Options struct {
	To      string // the candidate: a sentinel host:port, its host, or a name resolving to its address
	ToMySQL string // the candidate's MariaDB address as the others reach it; default: see PrimaryAddr
	Limits  Limits
	// Wait bounds the candidate's catch-up to the demoted primary's last
	// position (promote's MASTER_GTID_WAIT); past it the switchover is
	// undone.
	Wait time.Duration
	// Settle bounds the check, at the end, that every member took its new
	// role (and the look at an unclear promote).
	Settle time.Duration
	// Resolve looks a host name up (net.DefaultResolver.LookupHost); nil:
	// --to is matched literally.
	Resolve func(ctx context.Context, host string) ([]string, error)
	Out     io.Writer
}

// Report is what a switchover did.
type Report struct {
	Plan    Plan
	Primary string // the new primary's MariaDB address
	// ReadOnly is how long no member took writes: from the demote request
	// to the promote answer (a load balancer adds its check interval).
	ReadOnly time.Duration
	Total    time.Duration
}

// Views reads every member's /status at once.
func Views(ctx context.Context, c Caller, addrs []string) []View {
	answers := peer.FanOut(ctx, addrs, func(ctx context.Context, addr string) (json.RawMessage, error) {
		var raw json.RawMessage
		err := c.Get(ctx, addr, "/status", &raw)
		return raw, err
	})
	out := make([]View, len(answers))
	for i, a := range answers {
		if a.Err != nil {
			out[i] = View{Addr: a.Addr, Err: a.Err.Error()}
			continue
		}
		out[i] = decodeView(a.Addr, a.Value)
	}
	return out
}

// Run moves the primary to the member o.To names: it reads every
// member's /status, decides (Decide), demotes the primary, promotes the
// candidate once it applied the demoted primary's last position (undoing
// the demotion when it does not within o.Wait), repoints every other
// member and then the old primary, and checks that each took its role.
// Each step is printed to o.Out with its duration.
func Run(ctx context.Context, cl Clients, addrs []string, o Options) (Report, error) {
	start := time.Now()
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	say := func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }
	views := Views(ctx, cl.Call, addrs)
	freshPrimary(ctx, cl.Call, views, o.Settle)
	for _, v := range views {
		say("  %s", describe(v))
	}
	var resolved []string
	if host := hostOf(o.To); o.Resolve != nil && net.ParseIP(host) == nil {
		if a, err := o.Resolve(ctx, host); err == nil {
			resolved = a
		}
	}
	cand, err := Match(views, o.To, resolved)
	if err != nil {
		return Report{}, &RefusedError{[]string{err.Error()}}
	}
	plan, err := Decide(views, cand, o.Limits)
	if err != nil {
		return Report{}, err
	}
	primary, err := PrimaryAddr(plan, o.To, o.ToMySQL)
	if err != nil {
		return Report{}, &RefusedError{[]string{"--to-mysql: " + err.Error()}}
	}
	rep := Report{Plan: plan, Primary: primary}
	for _, w := range plan.Warnings {
		say("warning: %s", w)
	}
	followers := append(append([]View{}, plan.Others...), plan.Old)
	var names []string
	for _, v := range followers {
		names = append(names, v.Addr)
	}
	say("plan: demote %s; promote %s (MariaDB %s, %d transactions behind) once it applied the last one, within %s; then %s follow it",
		plan.Old.Addr, plan.New.Addr, primary, plan.Behind, o.Wait, strings.Join(names, ", "))

	n := 2 + len(followers)
	step := 0
	next := func() int { step++; return step }

	// 0. the old primary's sentinel must be able to repoint it
	// afterwards: asked before anything changes.
	var chk Result
	if err := cl.Call.Post(ctx, plan.Old.Addr, PathFollow+"?"+url.Values{"primary": {primary}, "check": {"1"}}.Encode(), &chk); err != nil {
		return rep, &RefusedError{[]string{fmt.Sprintf("the primary's sentinel %s could not make it follow %s afterwards: %s", plan.Old.Addr, primary, stepErr(err))}}
	}

	// 1. demote
	t0 := time.Now()
	var dem Result
	if err := cl.Call.Post(ctx, plan.Old.Addr, PathDemote, &dem); err != nil {
		return rep, fmt.Errorf("demote %s: %s (if it answered read_only=ON, make it writable again: POST %s on it)", plan.Old.Addr, stepErr(err), PathPromote)
	}
	say("%d/%d demote %s: read_only=ON at %s (%s)", next(), n, plan.Old.Addr, dem.GTIDBinlogPos, since(t0))

	// 2. promote, or undo
	t1 := time.Now()
	q := url.Values{"wait": {dem.GTIDBinlogPos}, "timeout": {o.Wait.String()}}
	if dem.GTIDBinlogPos == "" {
		q.Del("wait")
	}
	var pro Result
	perr := cl.Promote.Post(ctx, plan.New.Addr, PathPromote+"?"+q.Encode(), &pro)
	if perr != nil {
		say("%d/%d promote %s failed after %s: %s", next(), n, plan.New.Addr, since(t1), stepErr(perr))
		return rep, undo(ctx, cl, plan, perr, o, say)
	}
	rep.ReadOnly = time.Since(t0)
	say("%d/%d promote %s: applied %s, writable at %s (%s; no member took writes for %s)", next(), n, plan.New.Addr,
		orNone(dem.GTIDBinlogPos), pro.GTIDBinlogPos, since(t1), rep.ReadOnly.Round(time.Millisecond))

	// 3. the others, then the old primary
	var failures []string
	for _, v := range followers {
		t := time.Now()
		var f Result
		if err := cl.Call.Post(ctx, v.Addr, PathFollow+"?"+url.Values{"primary": {primary}}.Encode(), &f); err != nil {
			say("%d/%d follow %s -> %s FAILED (%s): %s", next(), n, v.Addr, primary, since(t), stepErr(err))
			failures = append(failures, fmt.Sprintf("%s did not follow %s: %s", v.Addr, primary, stepErr(err)))
			continue
		}
		say("%d/%d follow %s -> %s (%s)", next(), n, v.Addr, primary, since(t))
	}

	// 4. every member in its new role
	problems := settle(ctx, cl.Call, plan, primary, time.Now(), o.Settle, say)
	rep.Total = time.Since(start)
	failures = append(failures, problems...)
	if len(failures) > 0 {
		return rep, fmt.Errorf("the primary is now %s, but: %s (repoint by hand: POST %s?primary=%s on those sentinels)",
			plan.New.Addr, strings.Join(failures, "; "), PathFollow, primary)
	}
	say("switchover done in %s: %s is the primary; no member took writes for %s", rep.Total.Round(time.Millisecond), plan.New.Addr, rep.ReadOnly.Round(time.Millisecond))
	return rep, nil
}

// freshPrimary replaces the view of the one writable primary by one
// sampled after every other member's sample: each sentinel polls on its
// own clock, and a replica sampled later than its primary may show
// transactions the primary's older sample does not, which is no
// divergence. Bounded by limit; the views stay as they are when there is
// not exactly one primary or its sentinel gives no sample time.
func freshPrimary(ctx context.Context, c Caller, views []View, limit time.Duration) {
	idx := -1
	var latest time.Time
	for i, v := range views {
		if v.Repl == nil {
			continue
		}
		if v.Repl.writablePrimary() {
			if idx >= 0 {
				return
			}
			idx = i
		} else if v.Repl.At.After(latest) {
			latest = v.Repl.At
		}
	}
	if idx < 0 || views[idx].Repl.At.IsZero() || views[idx].Repl.At.After(latest) {
		return
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		v := Views(ctx, c, []string{views[idx].Addr})[0]
		if v.Repl != nil && v.Repl.At.After(latest) {
			views[idx] = v
			return
		}
	}
}

// undo makes the old primary writable again after a promote that failed,
// when the candidate is known not to have changed: its answer says so, or
// (no answer) a sample taken after the failure shows it still a read-only
// replica. Otherwise two writable primaries are possible, and the
// operator is told instead.
func undo(ctx context.Context, cl Clients, plan Plan, perr error, o Options, say func(string, ...any)) error {
	safe := false
	if se, ok := errors.AsType[*peer.StatusError](perr); ok {
		var r Result
		safe = json.Unmarshal(se.Body, &r) == nil && !r.Changed
	} else {
		failedAt := time.Now()
		deadline := failedAt.Add(o.Settle)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			v := Views(ctx, cl.Call, []string{plan.New.Addr})[0]
			if v.Repl != nil && v.Repl.At.After(failedAt) {
				safe = v.Repl.Role == roleReplica && v.Repl.ReadOnly
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	why := "promote " + plan.New.Addr + ": " + stepErr(perr)
	if !safe {
		return fmt.Errorf("%s; NOT undone: %s may have changed, so %s stays read-only (no primary takes writes). Look at both (galera-sentinel status --mode=replication), then make exactly one writable: POST %s on it",
			why, plan.New.Addr, plan.Old.Addr, PathPromote)
	}
	t := time.Now()
	var r Result
	if err := cl.Call.Post(ctx, plan.Old.Addr, PathPromote, &r); err != nil {
		return fmt.Errorf("%s; UNDO FAILED: %s is still read-only and no member takes writes: %s. Make it writable: POST %s on it, or SET GLOBAL read_only=OFF",
			why, plan.Old.Addr, stepErr(err), PathPromote)
	}
	say("undone: %s is writable again (%s); %s is unchanged, a read-only replica", plan.Old.Addr, since(t), plan.New.Addr)
	return fmt.Errorf("%s; undone: %s is the primary again", why, plan.Old.Addr)
}

// settle waits up to limit for samples taken after from that show the new
// primary writable and every other member replicating from it; it returns
// what is still not so.
func settle(ctx context.Context, c Caller, plan Plan, primary string, from time.Time, limit time.Duration, say func(string, ...any)) []string {
	host, port, _ := splitHostPort(primary)
	addrs := []string{plan.New.Addr}
	for _, v := range append(append([]View{}, plan.Others...), plan.Old) {
		addrs = append(addrs, v.Addr)
	}
	deadline := time.Now().Add(limit)
	var problems []string
	var views []View
	for {
		views = Views(ctx, c, addrs)
		problems = problems[:0]
		for i, v := range views {
			switch {
			case v.Err != "" || v.Repl == nil:
				problems = append(problems, fmt.Sprintf("%s: no replication state (%s)", v.Addr, orNone(v.Err)))
			case !v.Repl.At.IsZero() && v.Repl.At.Before(from):
				problems = append(problems, v.Addr+": no sample since the switchover yet")
			case i == 0 && !v.Repl.writablePrimary():
				problems = append(problems, fmt.Sprintf("%s: not a writable primary (role %s, read_only %t)", v.Addr, v.Repl.Role, v.Repl.ReadOnly))
			case i > 0 && (v.Repl.MasterHost != host || v.Repl.MasterPort != port):
				problems = append(problems, fmt.Sprintf("%s: replicates from %s:%d, not %s", v.Addr, v.Repl.MasterHost, v.Repl.MasterPort, primary))
			case i > 0 && (v.Repl.IORunning != "Yes" || !v.Repl.SQLRunning):
				problems = append(problems, fmt.Sprintf("%s: IO thread %s, SQL thread running %t: %s", v.Addr, orNone(v.Repl.IORunning), v.Repl.SQLRunning, orNone(v.Repl.LastError)))
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, v := range views {
		say("  %s", describe(v))
	}
	return problems
}

// describe is one line about a member.
func describe(v View) string {
	switch {
	case v.Err != "":
		return v.Addr + ": no answer: " + v.Err
	case v.Repl == nil:
		return v.Addr + ": no replication state"
	}
	r := v.Repl
	s := fmt.Sprintf("%s: %s, read_only=%t, gtid_binlog_pos=%s", v.Addr, r.Role, r.ReadOnly, orNone(r.BinlogPos))
	if r.MasterHost != "" {
		s += fmt.Sprintf(", replicating from %s:%d (IO %s, SQL running %t)", r.MasterHost, r.MasterPort, orNone(r.IORunning), r.SQLRunning)
	}
	if r.LagSeconds != nil {
		s += fmt.Sprintf(", lag %.1fs (%s)", *r.LagSeconds, r.LagSource)
	}
	if v.ReadyReason != "" {
		s += "; " + v.ReadyReason
	}
	return s
}

// stepErr is the step's own error message when its answer is the API's
// JSON, else the error.
func stepErr(err error) string {
	if se, ok := errors.AsType[*peer.StatusError](err); ok {
		var r Result
		if json.Unmarshal(se.Body, &r) == nil && r.Error != "" {
			return fmt.Sprintf("HTTP %d: %s", se.Code, r.Error)
		}
	}
	return err.Error()
}

func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }

func hostOf(s string) string {
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
