// Package clusterview is the cluster as its sentinels see it: every
// member's /status, fetched at once, and the table `galera-sentinel status`
// and the demo print.
//
// It must not judge a member: it shows the verdicts each sentinel gave.
package clusterview

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// Status is a Galera member's /status document.
type Status struct {
	health.StatusDoc
	Sample *galera.SampleDoc `json:"sample"`
}

// Member is one member as its sentinel's /status shows it.
type Member struct {
	Addr   string  `json:"sentinel"`
	Status *Status `json:"status,omitempty"`
	Err    string  `json:"error,omitempty"`
}

// StatusGetter fetches one sentinel's /status; peer.Client is the real one.
type StatusGetter interface {
	Status(ctx context.Context, addr string, v any) error
}

// Fetch asks every sentinel in addrs at once.
func Fetch(ctx context.Context, c StatusGetter, addrs []string) []Member {
	answers := peer.FanOut(ctx, addrs, func(ctx context.Context, addr string) (*Status, error) {
		var st Status
		if err := c.Status(ctx, addr, &st); err != nil {
			return nil, err
		}
		return &st, nil
	})
	out := make([]Member, len(answers))
	for i, a := range answers {
		out[i] = Member{Addr: a.Addr, Status: a.Value}
		if a.Err != nil {
			out[i].Err = a.Err.Error()
		}
	}
	return out
}

// Unreachable lists the members that did not answer.
func Unreachable(ms []Member) []string {
	var down []string
	for _, m := range ms {
		if m.Status == nil {
			down = append(down, m.Addr)
		}
	}
	return down
}

// Render prints one row per member. extra, when set, adds a column: its
// header, then a value per member.
func Render(w io.Writer, ms []Member, extraHeader string, extra func(Member) string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := "MEMBER\tSENTINEL\tREADY\tSTATE\tSIZE\tSEQNO\tINDEX\tWRITER\tCLIENTS"
	if extra != nil {
		hdr += "\t" + extraHeader
	}
	fmt.Fprintln(tw, hdr+"\tWHY")
	for _, m := range ms {
		cols, why := row(m)
		if extra != nil {
			cols = append(cols, extra(m))
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t"+why)
	}
	tw.Flush()
}

// row is a member's columns and the reason shown last.
func row(m Member) ([]string, string) {
	cols := []string{"-", m.Addr, "?", "unreachable", "-", "-", "-", "-", "-"}
	d := m.Status
	if d == nil {
		return cols, m.Err
	}
	cols[2] = yesNo(d.Ready.OK)
	cols[3] = "-"
	switch {
	case d.Stopping:
		cols[3] = "stopping"
	case d.Hold != "":
		cols[3] = "not started"
	}
	if s := d.Sample; s != nil {
		cols[0] = s.NodeName
		if cols[3] == "-" {
			cols[3] = s.ClusterStatus + "/" + s.LocalState
		}
		cols[4] = strconv.Itoa(s.ClusterSize)
		cols[5] = strconv.FormatInt(s.LastCommitted, 10)
		cols[6] = strconv.Itoa(s.LocalIndex)
		cols[8] = strconv.Itoa(max(s.ThreadsConnected-1, 0))
	}
	if d.Maintenance {
		cols[3] += " (maintenance)"
	}
	if d.Writer.OK {
		cols[7] = "*"
	} else {
		cols[7] = ""
	}
	return cols, d.Ready.Reason
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
