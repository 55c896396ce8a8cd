package clusterview

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

// ReplStatus is an asynchronous primary's or replica's /status document
// (--mode=replication).
type ReplStatus struct {
	health.StatusDoc
	Sample *replica.SampleDoc `json:"sample"`
}

// ReplMember is one server of an asynchronous replication set as its
// sentinel's /status shows it.
type ReplMember = MemberOf[ReplStatus]

// FetchReplication asks every sentinel in addrs at once.
func FetchReplication(ctx context.Context, c StatusGetter, addrs []string) []ReplMember {
	return fetch[ReplStatus](ctx, c, addrs)
}

// host is the member's host: its sentinel's address without the port,
// which is also its MariaDB's host.
func (m MemberOf[T]) host() string {
	h, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return m.Addr
	}
	return h
}

// ReplicationProblems says why the servers are not one healthy
// replication set: a server that does not answer, no writable primary or
// more than one, a replica that is not ready, and a replica that follows
// a server other than the primary (by host, when the primary is among
// the members asked). None: healthy.
func ReplicationProblems(ms []ReplMember) []string {
	var out, primaries []string
	primaryHost := ""
	for _, m := range ms {
		switch {
		case m.Status == nil:
			out = append(out, fmt.Sprintf("%s: no answer: %s", m.Addr, m.Err))
			continue
		case m.Status.Sample == nil:
			out = append(out, fmt.Sprintf("%s: no sample of its server: %s", m.Addr, m.Status.Ready.Reason))
			continue
		}
		s := m.Status.Sample
		switch s.Role {
		case replica.RolePrimary:
			primaries = append(primaries, m.Addr)
			primaryHost = m.host()
		case replica.RoleReplica:
			if !m.Status.Ready.OK {
				out = append(out, fmt.Sprintf("%s: replica not ready: %s", m.Addr, m.Status.Ready.Reason))
			}
		default:
			out = append(out, fmt.Sprintf("%s: neither primary nor replica: %s", m.Addr, m.Status.Ready.Reason))
		}
	}
	switch {
	case len(primaries) == 0:
		out = append(out, "no writable primary among the servers asked")
	case len(primaries) > 1:
		out = append(out, "more than one writable primary: "+strings.Join(primaries, ", ")+" (writes to both diverge them)")
	default:
		for _, m := range ms {
			if m.Status == nil || m.Status.Sample == nil || m.Status.Sample.Role != replica.RoleReplica {
				continue
			}
			if h := m.Status.Sample.MasterHost; h != primaryHost {
				out = append(out, fmt.Sprintf("%s: replicates from %s, not from the primary %s", m.Addr, h, primaries[0]))
			}
		}
	}
	return out
}

// RenderReplication prints one row per server.
func RenderReplication(w io.Writer, ms []ReplMember) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SENTINEL\tROLE\tREADY\tWRITER\tSOURCE\tIO\tSQL\tLAG\tGTID\tCLIENTS\tWHY")
	for _, m := range ms {
		cols := []string{m.Addr, "unreachable", "?", "-", "-", "-", "-", "-", "-", "-"}
		why := m.Err
		if d := m.Status; d != nil {
			cols[2], why = yesNo(d.Ready.OK), d.Ready.Reason
			if d.Writer.OK {
				cols[3] = "*"
			} else {
				cols[3] = ""
			}
			if s := d.Sample; s != nil {
				cols[1] = string(s.Role)
				pos := s.GTIDCurrentPos
				if s.Role == replica.RoleReplica {
					cols[4] = net.JoinHostPort(s.MasterHost, strconv.Itoa(s.MasterPort))
					cols[5], cols[6] = orDash(s.IORunning), yesNo(s.SQLRunning)
					cols[7] = "unknown"
					if s.LagSeconds != nil {
						cols[7] = strconv.FormatFloat(*s.LagSeconds, 'f', 1, 64) + "s " + s.LagSource
					}
					pos = s.GTIDSlavePos
				}
				cols[8] = orDash(pos)
				cols[9] = strconv.Itoa(max(s.ThreadsConnected-1, 0))
			}
			if d.Maintenance {
				cols[1] += " (maintenance)"
			}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t"+why)
	}
	tw.Flush()
}
