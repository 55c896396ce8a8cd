// Package galera is the Galera domain of galera-sentinel: what a node's
// wsrep status means, Galera's half of the probe verdicts, grastate.dat and
// the recovered position, and the bootstrap decision. Every decision is a
// table-testable function.
//
// It must not do I/O or read a clock (callers pass the time in), and it
// holds no generic probe rule (maintenance, staleness, liveness grace:
// those are package readiness's, shared with other domains).
package galera

import (
	"fmt"
	"strconv"
	"time"
)

// LocalState is wsrep_local_state, the node's state in the replication
// state machine.
type LocalState int

// The values Galera reports in wsrep_local_state.
const (
	StateUnknown LocalState = 0 // also "Initialized" before joining
	StateJoining LocalState = 1 // requesting or receiving a state transfer
	StateDonor   LocalState = 2 // Donor/Desynced: donating SST, or wsrep_desync=ON
	StateJoined  LocalState = 3 // state received, catching up with the cluster
	StateSynced  LocalState = 4
)

func (s LocalState) String() string {
	switch s {
	case StateJoining:
		return "Joining"
	case StateDonor:
		return "Donor/Desynced"
	case StateJoined:
		return "Joined"
	case StateSynced:
		return "Synced"
	case StateUnknown:
		return "Initialized"
	default:
		return "state " + strconv.Itoa(int(s))
	}
}

// Busy reports whether the node is legitimately occupied with a state
// transfer or catching up: it may be slow, but it is alive.
func (s LocalState) Busy() bool {
	return s == StateJoining || s == StateDonor || s == StateJoined
}

// ParseLocalState parses wsrep_local_state.
func ParseLocalState(v string) (LocalState, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 100 {
		return StateUnknown, fmt.Errorf("wsrep_local_state %q: not a state number", v)
	}
	return LocalState(n), nil
}

// Sample is one successful reading of a node's status and the variables the
// policies need.
type Sample struct {
	At time.Time // when the sample was taken

	WsrepOn       bool   // wsrep_on
	Connected     bool   // wsrep_connected
	Ready         bool   // wsrep_ready
	ClusterStatus string // wsrep_cluster_status: Primary, non-Primary, Disconnected
	LocalState    LocalState
	LocalIndex    int    // wsrep_local_index
	ClusterSize   int    // wsrep_cluster_size
	ClusterUUID   string // wsrep_cluster_state_uuid
	LastCommitted int64  // wsrep_last_committed
	NodeName      string // wsrep_node_name
	// ThreadsConnected is the server's Threads_connected: open client
	// connections, the sentinel's own included.
	ThreadsConnected int

	Desync                 bool   // wsrep_desync
	RejectQueries          string // wsrep_reject_queries: NONE, ALL, ALL_KILL
	ReadOnly               bool   // read_only
	SSTDonorRejectsQueries bool   // wsrep_sst_donor_rejects_queries
}

// Primary reports whether the node is in the Primary component.
func (s Sample) Primary() bool { return s.ClusterStatus == "Primary" }
