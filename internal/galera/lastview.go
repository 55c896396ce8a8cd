package galera

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// LastView is the last Primary component a member was part of, as its
// sentinel saved it in the data directory while the member ran. After a
// crash of every member the newest saved view names who must answer
// before anyone bootstraps: only members of the last Primary component
// can hold its last commits, and every one of them saved it. So the
// expected members follow the cluster itself, not a number configured
// next to it: scaling up or down needs no other change, and a member
// that is gone (a pod stuck Pending after an outage) is waited for if,
// and only if, it was part of the last Primary component.
type LastView struct {
	// Members are the node names of the component's members, sorted;
	// empty when the sentinel could not name every one (a peer's
	// sentinel did not answer when the view was saved).
	Members []string `json:"members,omitempty"`
	// Size is wsrep_cluster_size of the component.
	Size int `json:"size"`
	// ConfID is wsrep_cluster_conf_id: it tells one view from the next.
	ConfID int64 `json:"conf_id"`
	// Seqno is wsrep_last_committed when the view was saved (it is saved
	// again while the member runs, so that a newer view orders after an
	// older one).
	Seqno int64 `json:"seqno"`
}

// MaxViewSize bounds what a saved or reported view may claim.
const MaxViewSize = 1000

// Validate checks a view read from a file or a peer.
func (v LastView) Validate() error {
	var errs []error
	if v.Size < 1 || v.Size > MaxViewSize {
		errs = append(errs, fmt.Errorf("view size %d: want 1 to %d", v.Size, MaxViewSize))
	}
	if len(v.Members) > 0 && len(v.Members) != v.Size {
		errs = append(errs, fmt.Errorf("view names %d members for a size of %d", len(v.Members), v.Size))
	}
	if !slices.IsSorted(v.Members) {
		errs = append(errs, errors.New("view members are not sorted"))
	}
	for i, m := range v.Members {
		if m == "" || len(m) > 253 || strings.ContainsAny(m, " \t\r\n") {
			errs = append(errs, fmt.Errorf("view member %q is not a node name", m))
		}
		if i > 0 && v.Members[i-1] == m {
			errs = append(errs, fmt.Errorf("view names %s twice", m))
		}
	}
	if v.Seqno < -1 {
		errs = append(errs, fmt.Errorf("view seqno %d < -1", v.Seqno))
	}
	return errors.Join(errs...)
}

// Same reports whether two views describe the same component.
func (v LastView) Same(o LastView) bool {
	return v.Size == o.Size && v.ConfID == o.ConfID && slices.Equal(v.Members, o.Members)
}

// ParseLastView reads a saved view; a file that is not one is an error
// naming what is wrong (never guessed around).
func ParseLastView(b []byte) (LastView, error) {
	var v LastView
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return LastView{}, fmt.Errorf("not a saved view: %w", err)
	}
	if err := v.Validate(); err != nil {
		return LastView{}, err
	}
	return v, nil
}

// expectation is who must answer before a decision that needs every
// member: the newest last view among the members that answered (highest
// seqno; views saved at the same seqno are joined, the conservative
// choice), or, when no member has saved a view (a cluster that never
// formed, members from before views were saved), --expected-size
// members.
type expectation struct {
	names []string // members that must answer; may be empty (then only the count)
	size  int
	from  string // where it came from, for the reason
}

func expect(v View, all []Member) expectation {
	var newest []Member
	for _, m := range all {
		if m.LastView == nil {
			continue
		}
		switch {
		case len(newest) == 0 || m.LastView.Seqno > newest[0].LastView.Seqno:
			newest = []Member{m}
		case m.LastView.Seqno == newest[0].LastView.Seqno:
			newest = append(newest, m)
		}
	}
	if len(newest) == 0 {
		return expectation{size: v.Expected, from: "the configured --expected-size"}
	}
	var e expectation
	for _, m := range newest {
		e.size = max(e.size, m.LastView.Size)
		for _, n := range m.LastView.Members {
			if !slices.Contains(e.names, n) {
				e.names = append(e.names, n)
			}
		}
	}
	slices.Sort(e.names)
	e.size = max(e.size, len(e.names))
	e.from = "the last Primary component, as " + names(newest) + " saved it"
	return e
}

// absent are the expected members that did not answer.
func (e expectation) absent(all []Member) []string {
	var out []string
	for _, n := range e.names {
		if !slices.ContainsFunc(all, func(m Member) bool { return m.Name == n }) {
			out = append(out, n)
		}
	}
	return out
}

// complete reports whether every expected member answered and no
// discovered address failed to.
func (e expectation) complete(v View, all []Member) bool {
	return len(all) >= e.size && len(e.absent(all)) == 0 && len(v.Unreachable) == 0
}
