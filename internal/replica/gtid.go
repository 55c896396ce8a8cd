package replica

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// GTID is one MariaDB global transaction id, domain-server-sequence.
type GTID struct {
	Domain uint32
	Server uint32
	Seq    uint64
}

func (g GTID) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// GTIDList is a MariaDB GTID position (gtid_binlog_pos, gtid_slave_pos,
// gtid_current_pos): the last GTID of each replication domain.
type GTIDList map[uint32]GTID

// ParseGTIDList reads a position as MariaDB prints it: "domain-server-seq"
// entries separated by commas (spaces and newlines around them allowed),
// possibly empty. Two entries for one domain are an error: a position has
// one per domain.
func ParseGTIDList(s string) (GTIDList, error) {
	out := GTIDList{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		f := strings.Split(e, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("GTID %q: want domain-server-sequence", e)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		srv, err2 := strconv.ParseUint(f[1], 10, 32)
		seq, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("GTID %q: want domain-server-sequence, each a number", e)
		}
		if _, dup := out[uint32(d)]; dup {
			return nil, fmt.Errorf("GTID position %q: domain %d twice", s, d)
		}
		out[uint32(d)] = GTID{Domain: uint32(d), Server: uint32(srv), Seq: seq}
	}
	return out, nil
}

// String prints the list as MariaDB does, by domain.
func (l GTIDList) String() string {
	ds := make([]uint32, 0, len(l))
	for d := range l {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = l[d].String()
	}
	return strings.Join(parts, ",")
}

// Descends reports whether a server at position replica can replicate
// from a primary at position primary without losing or duplicating a
// transaction: everything the replica has is part of the primary's
// history, as far as positions can tell. When it cannot, why says which
// domain shows it:
//   - a domain the primary never had (transactions written elsewhere);
//   - a sequence beyond the primary's (the replica has transactions the
//     primary has not: written on it, or on a primary that was lost);
//   - the same sequence with a different server id (two histories that
//     forked at that number).
//
// A replica behind the primary in a domain descends as far as positions
// tell; whether the primary's binary log still holds that GTID with the
// same server id only the primary can say when the replica connects (with
// gtid_strict_mode it refuses with error 1236).
func Descends(replica, primary GTIDList) (ok bool, why string) {
	for _, d := range sortedDomains(replica) {
		r := replica[d]
		p, has := primary[d]
		switch {
		case !has:
			return false, fmt.Sprintf("domain %d (this server at %s) never existed on the primary (position %q)", d, r, primary)
		case r.Seq > p.Seq:
			return false, fmt.Sprintf("this server is ahead of the primary in domain %d: %s here, %s on the primary; it has transactions the primary never had", d, r, p)
		case r.Seq == p.Seq && r.Server != p.Server:
			return false, fmt.Sprintf("histories forked in domain %d: %s here, %s on the primary (same sequence, different server)", d, r, p)
		}
	}
	return true, ""
}

// Distance is how many transactions replica is behind primary, summed
// over the domains (sequences are gapless within a domain on one
// primary). comparable is false when replica does not descend from
// primary.
func Distance(replica, primary GTIDList) (transactions int64, comparable bool) {
	if ok, _ := Descends(replica, primary); !ok {
		return 0, false
	}
	var n int64
	for d, p := range primary {
		if r := replica[d]; r.Seq < p.Seq {
			n += int64(p.Seq - r.Seq)
		}
	}
	return n, true
}

// LocalWrites lists the domains in which a server's binary log is ahead of
// what it applied from a primary (binlog beyond slave): transactions
// written on the server itself, not received. On a replica that is a
// diverged history; nil when there are none. A server that never
// replicated (slave empty) is all local writes: a former primary.
func LocalWrites(binlog, slave GTIDList) []GTID {
	var out []GTID
	for _, d := range sortedDomains(binlog) {
		b := binlog[d]
		s, has := slave[d]
		if !has || b.Seq > s.Seq || (b.Seq == s.Seq && b.Server != s.Server) {
			out = append(out, b)
		}
	}
	return out
}

func sortedDomains(l GTIDList) []uint32 {
	ds := make([]uint32, 0, len(l))
	for d := range l {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}
