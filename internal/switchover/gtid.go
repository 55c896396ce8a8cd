package switchover

import "github.com/galera-sentinel/galera-sentinel/internal/replica"

// behind says whether applied is a prefix of primary's history, domain by
// domain, why not, and how many transactions applied lacks.
func behind(applied, primary replica.GTIDList) (n uint64, why string, ok bool) {
	if ok, why := replica.Descends(applied, primary); !ok {
		return 0, why, false
	}
	d, _ := replica.Distance(applied, primary)
	return uint64(d), "", true
}

// merged is, domain by domain, the later of two positions: what a server
// that was a primary has of the history, whether it wrote a transaction
// itself (gtid_binlog_pos) or applied it as a replica before
// (gtid_slave_pos, which lacks what it wrote).
func merged(a, b replica.GTIDList) replica.GTIDList {
	out := replica.GTIDList{}
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
