// Package clusterview is the cluster as its sentinels see it: every
// member's /status, fetched at once, and the table `galera-sentinel status`
// and the demo print.
//
// It must not judge a member: it shows the verdicts each sentinel gave.
// It judges only what no single sentinel can see (Problems): whether the
// members' answers agree with one healthy cluster.
package clusterview

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// Status is a Galera member's /status document.
type Status struct {
	health.StatusDoc
	Sample *galera.SampleDoc `json:"sample"`
	// Member is run mode's document (nil from serve, or a sentinel of a
	// release before it).
	Member *galera.MemberDoc `json:"member,omitempty"`
}

// MemberOf is one member as its sentinel's /status (of type T) shows it.
type MemberOf[T any] struct {
	Addr   string `json:"sentinel"`
	Status *T     `json:"status,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Member is a Galera member.
type Member = MemberOf[Status]

// StatusGetter fetches one sentinel's /status; peer.Client is the real one.
type StatusGetter interface {
	Status(ctx context.Context, addr string, v any) error
}

// Fetch asks every Galera member's sentinel in addrs at once.
func Fetch(ctx context.Context, c StatusGetter, addrs []string) []Member {
	return fetch[Status](ctx, c, addrs)
}

func fetch[T any](ctx context.Context, c StatusGetter, addrs []string) []MemberOf[T] {
	answers := peer.FanOut(ctx, addrs, func(ctx context.Context, addr string) (*T, error) {
		var st T
		if err := c.Status(ctx, addr, &st); err != nil {
			return nil, err
		}
		return &st, nil
	})
	out := make([]MemberOf[T], len(answers))
	for i, a := range answers {
		out[i] = MemberOf[T]{Addr: a.Addr, Status: a.Value}
		if a.Err != nil {
			out[i].Err = a.Err.Error()
		}
	}
	return out
}

// Problems says why the members' answers are not one healthy cluster,
// one line each, in a stable order: a member that does not answer or has
// no sample, a member outside the Primary component, two cluster UUIDs,
// two Primary components (more Primary members than the largest
// component has), Primary members whose cluster sizes disagree, and a
// Primary component smaller than the members asked. None: healthy.
func Problems(ms []Member) []string {
	var out []string
	uuids := map[string][]string{}
	var primaries []string
	sizes := map[int][]string{}
	maxSize := 0
	for _, m := range ms {
		switch {
		case m.Status == nil:
			out = append(out, fmt.Sprintf("%s: no answer: %s", m.Addr, m.Err))
			continue
		case m.Status.Sample == nil:
			why := m.Status.Ready.Reason
			out = append(out, fmt.Sprintf("%s: no sample of its node: %s", m.Addr, why))
			continue
		}
		s := m.Status.Sample
		name := s.NodeName
		if name == "" {
			name = m.Addr
		}
		if s.ClusterUUID != "" {
			uuids[s.ClusterUUID] = append(uuids[s.ClusterUUID], name)
		}
		if s.ClusterStatus != "Primary" {
			out = append(out, fmt.Sprintf("%s: not in a Primary component (%s, %s)", name, orDash(s.ClusterStatus), s.LocalState))
			continue
		}
		primaries = append(primaries, name)
		sizes[s.ClusterSize] = append(sizes[s.ClusterSize], name)
		maxSize = max(maxSize, s.ClusterSize)
	}
	if len(uuids) > 1 {
		var parts []string
		for _, u := range slices.Sorted(maps.Keys(uuids)) {
			parts = append(parts, fmt.Sprintf("%s (%s)", u, strings.Join(uuids[u], ", ")))
		}
		out = append(out, "two or more clusters: members name cluster UUIDs "+strings.Join(parts, " and "))
	}
	if len(primaries) > maxSize {
		out = append(out, fmt.Sprintf("two Primary components: %d members are Primary (%s), the largest component has %d",
			len(primaries), strings.Join(primaries, ", "), maxSize))
	}
	if len(sizes) > 1 {
		var parts []string
		for _, n := range slices.Sorted(maps.Keys(sizes)) {
			parts = append(parts, fmt.Sprintf("%d (%s)", n, strings.Join(sizes[n], ", ")))
		}
		out = append(out, "Primary members disagree on the cluster size: "+strings.Join(parts, ", "))
	}
	if len(primaries) > 0 && len(primaries) <= maxSize && maxSize < len(ms) {
		out = append(out, fmt.Sprintf("the Primary component has %d of the %d members asked", maxSize, len(ms)))
	}
	out = append(out, Versions(ms)...)
	out = append(out, Libraries(ms)...)
	return append(out, SystemTables(ms)...)
}

// Libraries says, when the members run more than one Galera library,
// which run which, and what not to do meanwhile: a component speaks the
// protocols its oldest library supports, and raises them once the last
// member with it has left, so a member on the older library that is
// restarted may find it cannot join again.
func Libraries(ms []Member) []string {
	byLib := map[string][]string{}
	for _, m := range ms {
		if m.Status == nil || m.Status.Sample == nil || m.Status.Sample.ProviderVersion == "" {
			continue
		}
		name := m.Status.Sample.NodeName
		if name == "" {
			name = m.Addr
		}
		byLib[m.Status.Sample.ProviderVersion] = append(byLib[m.Status.Sample.ProviderVersion], name)
	}
	if len(byLib) < 2 {
		return nil
	}
	var parts []string
	for _, l := range slices.Sorted(maps.Keys(byLib)) {
		parts = append(parts, fmt.Sprintf("%s (%s)", l, strings.Join(byLib[l], ", ")))
	}
	return []string{"mixed Galera libraries: " + strings.Join(parts, ", ") + ": the cluster speaks the protocols of the oldest and raises them once its last member has left; " +
		"bring the members on an older library to the newer one rather than restart them on the old one, which may then not join again"}
}

// SystemTables names the members whose privilege tables or upgrade
// marker differ from the others' (their settled checksums, see
// galera.SystemTablesDoc): what Galera neither replicates (mariadb-upgrade,
// a statement run with wsrep_on=OFF) nor compares.
func SystemTables(ms []Member) []string {
	groups := map[string][]string{}
	parts := map[string]string{}
	for _, m := range ms {
		if m.Status == nil || m.Status.Member == nil || m.Status.Member.SystemTables == nil {
			continue
		}
		st := m.Status.Member.SystemTables
		if !st.Settled || st.Checksum == "" {
			continue
		}
		name := m.Addr
		if m.Status.Sample != nil && m.Status.Sample.NodeName != "" {
			name = m.Status.Sample.NodeName
		}
		groups[st.Checksum] = append(groups[st.Checksum], name)
		parts[st.Checksum] = st.Parts
	}
	if len(groups) < 2 {
		return nil
	}
	sums := slices.Collect(maps.Keys(groups))
	// The fewest first: the members that differ from the rest.
	slices.SortFunc(sums, func(a, b string) int {
		if d := len(groups[a]) - len(groups[b]); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var desc []string
	for _, s := range sums {
		desc = append(desc, fmt.Sprintf("%s (%s)", strings.Join(groups[s], ", "), parts[s]))
	}
	return []string{fmt.Sprintf("system tables differ, which Galera does not report: %s; compare mysql.global_priv, mysql.db, mysql.tables_priv and mysql_upgrade_info on them "+
		"(a GRANT applied on some members only, mariadb-upgrade not run everywhere)", strings.Join(desc, " and "))}
}

// Versions says, when the members run more than one MariaDB version (a
// rolling upgrade, or one left half done), which run which and what not
// to do meanwhile; and when two of them may not even be mixed, so.
func Versions(ms []Member) []string {
	byVersion := map[upgrade.Version][]string{}
	for _, m := range ms {
		if m.Status == nil || m.Status.Sample == nil || m.Status.Sample.Version == "" {
			continue
		}
		v, err := upgrade.Parse(m.Status.Sample.Version)
		if err != nil {
			continue
		}
		name := m.Status.Sample.NodeName
		if name == "" {
			name = m.Addr
		}
		byVersion[v] = append(byVersion[v], name)
	}
	if len(byVersion) < 2 {
		return nil
	}
	vs := slices.SortedFunc(maps.Keys(byVersion), upgrade.Version.Compare)
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%s (%s)", v, strings.Join(byVersion[v], ", ")))
	}
	oldest, newest := vs[0], vs[len(vs)-1]
	out := []string{fmt.Sprintf("mixed MariaDB versions: %s: a rolling upgrade is under way; until every member runs %s, run no DDL and grant no privilege %s lacks, "+
		"and let the writer stay on %s", strings.Join(parts, ", "), newest, oldest, oldest)}
	if ok, why := upgrade.Mixable(oldest, newest); !ok {
		out = append(out, why+": stop every member, then start them all on "+newest.String())
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Render prints one row per member. extra, when set, adds a column: its
// header, then a value per member.
func Render(w io.Writer, ms []Member, extraHeader string, extra func(Member) string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := "MEMBER\tSENTINEL\tREADY\tSTATE\tSIZE\tSEQNO\tINDEX\tWRITER\tCLIENTS\tVERSION"
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
	cols := []string{"-", m.Addr, "?", "unreachable", "-", "-", "-", "-", "-", "-"}
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
		if v, err := upgrade.Parse(s.Version); err == nil {
			cols[9] = v.String()
		}
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
