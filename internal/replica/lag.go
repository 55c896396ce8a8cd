package replica

import (
	"fmt"
	"time"
)

// GTIDLag measures a replica's lag from the primary's gtid_binlog_pos as
// the sentinel reads it, poll after poll: the lag is how long ago the
// primary was first seen at a position the replica has not applied yet.
// It is right on an idle primary (nothing unapplied: 0) and while the IO
// thread is stalled (the primary moves on, the replica does not: the lag
// grows), where Seconds_Behind_Master says 0 in both cases. Its
// resolution is the poll interval; both times are the sentinel's clock,
// so the servers' clocks do not matter.
//
// The zero value is ready to use; it is not safe for concurrent use (the
// sampler owns it).
type GTIDLag struct {
	seen []observation // oldest first, each not yet applied by the replica
	// started is set once the primary has been observed.
	started bool
}

type observation struct {
	at  time.Time
	pos map[uint32]uint64
	// floor marks the very first observation: the primary may have been
	// there long before, so its age is only a lower bound of the lag.
	floor bool
}

// maxObservations bounds the history: at one poll a second, a replica 17
// minutes behind. Past it, the oldest unapplied position is kept and the
// newer ones thinned out, so the lag stays right and only its resolution
// suffers.
const maxObservations = 1024

// Observe records the primary's position at, and measures the lag of a
// replica that has applied applied (its gtid_slave_pos).
func (g *GTIDLag) Observe(at time.Time, primary, applied string) Lag {
	p, err := seqByDomain(primary)
	if err != nil {
		return UnknownLag("primary's gtid_binlog_pos: " + err.Error())
	}
	a, err := seqByDomain(applied)
	if err != nil {
		return UnknownLag("replica's gtid_slave_pos: " + err.Error())
	}
	if len(g.seen) == 0 || !sameSeqs(g.seen[len(g.seen)-1].pos, p) {
		if len(g.seen) == maxObservations {
			g.seen = append(g.seen[:1], g.seen[2:]...)
		}
		g.seen = append(g.seen, observation{at: at, pos: p, floor: !g.started})
	}
	g.started = true
	// Forget what the replica has applied.
	i := 0
	for i < len(g.seen) && reached(a, g.seen[i].pos) {
		i++
	}
	g.seen = g.seen[i:]
	behind := distance(a, p)
	if len(g.seen) == 0 {
		l := KnownLag(0, LagGTID)
		l.Behind = behind
		return l
	}
	oldest := g.seen[0]
	age := max(at.Sub(oldest.at), 0)
	if oldest.floor {
		l := UnknownLag(fmt.Sprintf("catching up: %d transactions behind the primary for at least %.1fs", behind, age.Seconds()))
		l.Behind, l.AtLeast = behind, age.Seconds()
		return l
	}
	l := KnownLag(age, LagGTID)
	l.Behind = behind
	return l
}

// Oldest is how long ago, at at, the primary was first seen at a
// position the replica has not applied: a lower bound of the lag while
// the primary cannot be read. ok is false when there is none.
func (g *GTIDLag) Oldest(at time.Time) (d time.Duration, ok bool) {
	if len(g.seen) == 0 {
		return 0, false
	}
	return max(at.Sub(g.seen[0].at), 0), true
}

// Reset forgets the history: the replica was repointed, or the primary
// changed.
func (g *GTIDLag) Reset() { *g = GTIDLag{} }

// reached reports whether applied includes every domain's sequence of pos.
func reached(applied, pos map[uint32]uint64) bool {
	for d, seq := range pos {
		if applied[d] < seq {
			return false
		}
	}
	return true
}

// distance is how many transactions applied is behind pos, summed over
// the domains (sequence numbers are per domain and gapless on one primary).
func distance(applied, pos map[uint32]uint64) int64 {
	var n int64
	for d, seq := range pos {
		if a := applied[d]; a < seq {
			n += int64(seq - a)
		}
	}
	return n
}

func sameSeqs(a, b map[uint32]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for d, s := range a {
		if b[d] != s {
			return false
		}
	}
	return true
}

// seqByDomain reads a GTID list ("0-1-100,1-2-5") as each domain's
// sequence number.
func seqByDomain(list string) (map[uint32]uint64, error) {
	l, err := ParseGTIDList(list)
	if err != nil {
		return nil, err
	}
	out := make(map[uint32]uint64, len(l))
	for d, g := range l {
		out[d] = g.Seq
	}
	return out, nil
}
