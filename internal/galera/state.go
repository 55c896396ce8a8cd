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
	"strings"
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
	// Version is the server's version (@@version), ProviderVersion
	// Galera's (wsrep_provider_version): what `status` and the metrics
	// show while a rolling upgrade mixes them. Empty when not reported.
	Version, ProviderVersion string

	Desync                 bool   // wsrep_desync
	RejectQueries          string // wsrep_reject_queries: NONE, ALL, ALL_KILL
	ReadOnly               bool   // read_only
	SSTDonorRejectsQueries bool   // wsrep_sst_donor_rejects_queries

	// Stats are read for metrics only: no verdict depends on them.
	Stats Stats
}

// Stats are the replication counters and gauges that metrics show. No
// verdict reads them, so a value that is missing or malformed is Unknown
// rather than a failed sample: a provider that renames a counter must not
// take a healthy node out of the load balancer.
type Stats struct {
	ConfID              int64 // wsrep_cluster_conf_id: a new view increments it
	RecvQueue           int64 // wsrep_local_recv_queue: write-sets waiting to be applied
	SendQueue           int64 // wsrep_local_send_queue: write-sets waiting to be sent
	CertFailures        int64 // wsrep_local_cert_failures (counter)
	BFAborts            int64 // wsrep_local_bf_aborts (counter)
	FlowControlPausedNs int64 // wsrep_flow_control_paused_ns (counter)
	FlowControlSent     int64 // wsrep_flow_control_sent (counter)
	FlowControlRecv     int64 // wsrep_flow_control_recv (counter)
	ReplicatedBytes     int64 // wsrep_replicated_bytes (counter): written here
	ReceivedBytes       int64 // wsrep_received_bytes (counter): from the others
	// ReplLatencyAvg and ReplLatencyMax are wsrep_evs_repl_latency's
	// average and maximum in seconds over Galera's last sampling period.
	ReplLatencyAvg, ReplLatencyMax float64
	// GcacheSize is gcache.size from wsrep_provider_options, in bytes: how
	// much of the write history a joiner can catch up on by IST.
	GcacheSize int64
}

// Unknown marks a Stats value that was missing or malformed.
const Unknown = -1

// UnknownStats is Stats with every value Unknown.
func UnknownStats() Stats {
	return Stats{Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown, Unknown}
}

// ParseReplLatency parses wsrep_evs_repl_latency, "min/avg/max/stddev/count"
// in seconds, into its average and maximum.
func ParseReplLatency(v string) (avg, maxLatency float64, err error) {
	f := strings.Split(v, "/")
	if len(f) != 5 {
		return 0, 0, fmt.Errorf("wsrep_evs_repl_latency %q: want min/avg/max/stddev/count", v)
	}
	if avg, err = strconv.ParseFloat(f[1], 64); err == nil {
		maxLatency, err = strconv.ParseFloat(f[2], 64)
	}
	if err != nil || avg < 0 || maxLatency < 0 {
		return 0, 0, fmt.Errorf("wsrep_evs_repl_latency %q: not a latency", v)
	}
	return avg, maxLatency, nil
}

// ProviderOption returns one option's value from wsrep_provider_options
// ("a.b = v; c.d = w; ...").
func ProviderOption(options, name string) (string, bool) {
	for _, kv := range strings.Split(options, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// ParseSize parses a Galera size option: a number of bytes with an
// optional K, M, G or T suffix (powers of 1024), as in gcache.size=128M.
func ParseSize(v string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(v)
	if n := len(num); n > 0 {
		switch num[n-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			num = num[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want bytes with an optional K, M, G or T", v)
	}
	return n * mult, nil
}

// Primary reports whether the node is in the Primary component.
func (s Sample) Primary() bool { return s.ClusterStatus == "Primary" }
