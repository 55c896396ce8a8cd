package switchover

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// Replication is what a switchover reads of a member's replication
// state: the "replication" object of its GET /status (or, from a sentinel
// that puts it there, its "sample").
type Replication struct {
	At           time.Time `json:"at"`
	Role         string    `json:"role"`
	ServerID     uint32    `json:"server_id"`
	ReadOnly     bool      `json:"read_only"`
	BinlogPos    string    `json:"gtid_binlog_pos"`
	SlavePos     string    `json:"gtid_slave_pos"`
	CurrentPos   string    `json:"gtid_current_pos"`
	MasterHost   string    `json:"master_host"`
	MasterPort   int       `json:"master_port"`
	IORunning    string    `json:"io_running"`
	SQLRunning   bool      `json:"sql_running"`
	LastIOErrno  int       `json:"last_io_errno"`
	LastSQLErrno int       `json:"last_sql_errno"`
	LastError    string    `json:"last_error"`
	LagSeconds   *float64  `json:"lag_seconds"`
	LagSource    string    `json:"lag_source"`
}

// The roles /status reports.
const (
	rolePrimary = "primary"
	roleReplica = "replica"
)

// applied is what the server has applied of its primary's history.
func (r *Replication) applied() string {
	if r.SlavePos != "" {
		return r.SlavePos
	}
	return r.CurrentPos
}

func (r *Replication) writablePrimary() bool { return r.Role == rolePrimary && !r.ReadOnly }

// View is one member as the switchover saw it.
type View struct {
	Addr        string // the sentinel, host:port
	Err         string // why it did not answer; empty when it did
	Ready       bool
	ReadyReason string
	Repl        *Replication // nil when the sentinel reports none (not in replication mode)
}

// Host is the sentinel's host.
func (v View) Host() string {
	h, _, err := net.SplitHostPort(v.Addr)
	if err != nil {
		return v.Addr
	}
	return h
}

// statusDoc is the part of GET /status a switchover reads.
type statusDoc struct {
	Ready struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
	} `json:"ready"`
	Replication *Replication    `json:"replication"`
	Sample      json.RawMessage `json:"sample"`
}

// decodeView reads one member's /status document.
func decodeView(addr string, body []byte) View {
	var d statusDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return View{Addr: addr, Err: "decode /status: " + err.Error()}
	}
	v := View{Addr: addr, Ready: d.Ready.OK, ReadyReason: d.Ready.Reason, Repl: d.Replication}
	if v.Repl == nil && len(d.Sample) > 0 && string(d.Sample) != "null" {
		var r Replication
		if json.Unmarshal(d.Sample, &r) == nil && r.Role != "" {
			v.Repl = &r
		}
	}
	return v
}

// Limits bound what a switchover accepts.
type Limits struct {
	// MaxLag is how far behind the primary the candidate may be (by its
	// sentinel's measure) when the switchover starts.
	MaxLag time.Duration
}

// Plan is a switchover decided: demote Old, promote New once it applied
// everything Old wrote, repoint Others and then Old to New.
type Plan struct {
	Old, New View
	Others   []View
	// Behind is how many transactions New lacks of Old's gtid_binlog_pos
	// when the plan was made.
	Behind uint64
	// Warnings are things worth saying that do not stop the switchover.
	Warnings []string
}

// RefusedError is a switchover that must not start, and every reason.
type RefusedError struct{ Problems []string }

func (e *RefusedError) Error() string {
	return "switchover refused: " + strings.Join(e.Problems, "; ")
}

// Decide makes the plan from every member's view, or refuses it. cand is
// the index in views of the member --to names (see Match). It refuses
// unless every member answered with its replication state, exactly one is
// a writable primary, the candidate is another member that is a ready,
// read-only replica with both threads running and no error whose applied
// position is a prefix of the primary's history, and it lags at most
// MaxLag by a lag that was measured; and unless no other member's
// history diverged from the primary's (repointing it would fail, or
// worse).
func Decide(views []View, cand int, lim Limits) (Plan, error) {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	var primaries []int
	for i, v := range views {
		switch {
		case v.Err != "":
			bad("%s did not answer (%s): every member must be repointed, so every member must answer", v.Addr, v.Err)
		case v.Repl == nil:
			bad("%s reports no replication state: is its sentinel running with --mode=replication?", v.Addr)
		case v.Repl.writablePrimary():
			primaries = append(primaries, i)
		}
	}
	if len(problems) > 0 {
		return Plan{}, &RefusedError{problems}
	}
	switch len(primaries) {
	case 0:
		return Plan{}, &RefusedError{[]string{"no member is a writable primary: a switchover moves a working primary; with the primary lost, see docs/replication.md (\"When the primary is lost\")"}}
	case 1:
	default:
		var names []string
		for _, i := range primaries {
			names = append(names, views[i].Addr)
		}
		return Plan{}, &RefusedError{[]string{fmt.Sprintf("%d writable primaries (%s): writes may already have diverged; make all but one read-only by hand first", len(primaries), strings.Join(names, ", "))}}
	}
	old := views[primaries[0]]
	if cand < 0 || cand >= len(views) {
		return Plan{}, &RefusedError{[]string{"no candidate"}}
	}
	nv := views[cand]
	if cand == primaries[0] {
		return Plan{}, &RefusedError{[]string{nv.Addr + " is already the primary"}}
	}
	oldPos, err := replica.ParseGTIDList(old.Repl.BinlogPos)
	if err != nil {
		return Plan{}, &RefusedError{[]string{fmt.Sprintf("the primary %s: gtid_binlog_pos: %v", old.Addr, err)}}
	}
	r := nv.Repl
	switch {
	case r.Role != roleReplica:
		bad("the candidate %s is not a replica (role %s)", nv.Addr, r.Role)
	case r.LastSQLErrno != 0 || r.LastIOErrno != 0:
		bad("the candidate %s has a replication error (IO %d, SQL %d): %s", nv.Addr, r.LastIOErrno, r.LastSQLErrno, r.LastError)
	case r.IORunning != "Yes" || !r.SQLRunning:
		bad("the candidate %s does not replicate (IO thread %s, SQL thread running %t)", nv.Addr, orNone(r.IORunning), r.SQLRunning)
	case !r.ReadOnly:
		bad("the candidate %s is a writable replica (read_only=OFF): writes there may have diverged it", nv.Addr)
	case r.LagSeconds == nil:
		bad("the candidate %s: lag unknown (%s)", nv.Addr, nv.ReadyReason)
	case time.Duration(*r.LagSeconds*float64(time.Second)) > lim.MaxLag:
		bad("the candidate %s lags %.1fs (%s), more than --max-lag %s", nv.Addr, *r.LagSeconds, r.LagSource, lim.MaxLag)
	case !nv.Ready:
		bad("the candidate %s is not ready: %s", nv.Addr, nv.ReadyReason)
	}
	p := Plan{Old: old, New: nv}
	for i, v := range views {
		if i == cand || i == primaries[0] {
			continue
		}
		p.Others = append(p.Others, v)
	}
	for _, v := range append([]View{nv}, p.Others...) {
		pos, err := replica.ParseGTIDList(v.Repl.applied())
		if err != nil {
			bad("%s: its position: %v", v.Addr, err)
			continue
		}
		n, why, ok := behind(pos, oldPos)
		if !ok {
			bad("%s: %s: resolve it by hand before a switchover (a new empty replica under run mode is cloned instead)", v.Addr, why)
			continue
		}
		if v.Addr == nv.Addr {
			p.Behind = n
		} else if !v.Ready {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s is not ready (%s); it is repointed all the same", v.Addr, v.ReadyReason))
		}
	}
	if len(problems) > 0 {
		return Plan{}, &RefusedError{problems}
	}
	return p, nil
}

// Match finds the member --to names among views: its sentinel address,
// its sentinel's host (when one member has it), or one of addrs, the
// addresses the name of --to resolves to. -1 with an error when none or
// several match.
func Match(views []View, to string, addrs []string) (int, error) {
	host, port, err := net.SplitHostPort(to)
	if err != nil {
		host, port = to, ""
	}
	var hits []int
	for i, v := range views {
		vh, vp, _ := net.SplitHostPort(v.Addr)
		if vh == "" {
			vh = v.Addr
		}
		if port != "" && vp != port {
			continue
		}
		if strings.EqualFold(vh, host) || containsFold(addrs, vh) {
			hits = append(hits, i)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		var all []string
		for _, v := range views {
			all = append(all, v.Addr)
		}
		return -1, fmt.Errorf("--to %s names none of the members (%s)", to, strings.Join(all, ", "))
	}
	return -1, fmt.Errorf("--to %s names %d members: give the sentinel's host:port", to, len(hits))
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// PrimaryAddr is the MariaDB address the others replicate from once the
// candidate is promoted: explicit (--to-mysql) when given, else the host
// --to names (a DNS name stays a name, which outlives a pod's address)
// with the port the replicas use for the old primary, else 3306.
func PrimaryAddr(p Plan, to, explicit string) (string, error) {
	if explicit != "" {
		return normalizeAddr(explicit)
	}
	host, _, err := net.SplitHostPort(to)
	if err != nil {
		host = to
	}
	if host == "" {
		host = p.New.Host()
	}
	port := 3306
	for _, v := range append([]View{p.New}, p.Others...) {
		if v.Repl != nil && v.Repl.MasterPort > 0 {
			port = v.Repl.MasterPort
			break
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// normalizeAddr checks HOST[:PORT] and adds the default port 3306.
func normalizeAddr(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Contains(s, ":") && !strings.HasPrefix(s, "[") && strings.Count(s, ":") == 1 {
			return "", fmt.Errorf("address %q: %w", s, err)
		}
		host, port = strings.Trim(s, "[]"), "3306"
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n'\"\\`") {
		return "", fmt.Errorf("address %q: bad host", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("address %q: port must be 1-65535", s)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func splitHostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	return h, n, nil
}
