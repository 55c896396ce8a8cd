package switchover

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// gtid is one domain's last transaction in a GTID list (domain-server-seq).
type gtid struct {
	Domain, Server uint32
	Seq            uint64
}

func (g gtid) String() string { return fmt.Sprintf("%d-%d-%d", g.Domain, g.Server, g.Seq) }

// parseGTIDs reads a GTID list such as gtid_binlog_pos ("0-1-100,1-2-5";
// the server may put white space after the commas). Empty is an empty
// position. A domain listed twice is an error: MariaDB keeps one entry per
// domain in these variables.
func parseGTIDs(s string) (map[uint32]gtid, error) {
	out := map[uint32]gtid{}
	s = strings.TrimSpace(s)
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		f := strings.Split(part, "-")
		if len(f) != 3 {
			return nil, fmt.Errorf("GTID %q: want domain-server-sequence", part)
		}
		d, err1 := strconv.ParseUint(f[0], 10, 32)
		sv, err2 := strconv.ParseUint(f[1], 10, 32)
		n, err3 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("GTID %q: want three unsigned numbers", part)
		}
		if _, dup := out[uint32(d)]; dup {
			return nil, fmt.Errorf("GTID list %q names domain %d twice", s, d)
		}
		out[uint32(d)] = gtid{uint32(d), uint32(sv), n}
	}
	return out, nil
}

// formatGTIDs writes a position in domain order.
func formatGTIDs(m map[uint32]gtid) string {
	ds := make([]uint32, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = m[d].String()
	}
	return strings.Join(parts, ",")
}

// behind says whether applied is a prefix of primary's history, domain by
// domain (no domain of applied is further than primary's), and how many
// transactions applied lacks. It cannot tell two histories with equal
// sequence numbers apart beyond the server id of the last GTID, which is
// compared when the sequences are equal.
func behind(applied, primary map[uint32]gtid) (n uint64, why string, ok bool) {
	for d, a := range applied {
		p, has := primary[d]
		switch {
		case !has:
			return 0, fmt.Sprintf("has transactions in GTID domain %d (%s), which the primary has not", d, a), false
		case a.Seq > p.Seq:
			return 0, fmt.Sprintf("is ahead of the primary in GTID domain %d (%s against %s): its history diverged", d, a, p), false
		case a.Seq == p.Seq && a.Server != p.Server:
			return 0, fmt.Sprintf("ends GTID domain %d with %s where the primary has %s: its history diverged", d, a, p), false
		}
		n += p.Seq - a.Seq
	}
	for d, p := range primary {
		if _, has := applied[d]; !has {
			n += p.Seq
		}
	}
	return n, "", true
}

// merged is, domain by domain, the later of two positions: what a server
// that was a primary has of the history, whether it wrote a transaction
// itself (gtid_binlog_pos) or applied it as a replica before
// (gtid_slave_pos, which lacks what it wrote).
func merged(a, b map[uint32]gtid) map[uint32]gtid {
	out := map[uint32]gtid{}
	for d, g := range a {
		out[d] = g
	}
	for d, g := range b {
		if o, has := out[d]; !has || g.Seq > o.Seq {
			out[d] = g
		}
	}
	return out
}
