package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// The Galera node's series. mysqld_exporter's names are in the README
// (Metrics), for users who run both.
var (
	localStateDesc    = desc("local_state", "wsrep_local_state as a state set: 1 for the node's current state.", "state")
	clusterStatusDesc = desc("cluster_status", "wsrep_cluster_status as a state set: 1 for the current one.", "status")
	clusterSizeDesc   = desc("cluster_size", "wsrep_cluster_size: members of the node's component.")
	confIDDesc        = desc("cluster_conf_id", "wsrep_cluster_conf_id: increments with every new view of the cluster.")
	localIndexDesc    = desc("local_index", "wsrep_local_index: the node's place in the view (-1 outside a Primary component).")
	lastCommittedDesc = desc("last_committed", "wsrep_last_committed: the node's seqno.")
	clusterInfoDesc   = desc("cluster_info", "The cluster the node is in and its name; always 1.", "cluster_uuid", "node_name")
	versionDesc       = desc("version_info", "The server's version (@@version) and Galera's (wsrep_provider_version); always 1. Two values across members: a rolling upgrade is under way.", "version", "provider_version")
	desyncDesc        = desc("desync", "wsrep_desync: 1 when the node was desynced on purpose.")
	readOnlyDesc      = desc("read_only", "read_only: 1 when the server refuses writes.")
	threadsDesc       = desc("threads_connected", "Threads_connected: client connections, the sentinel's own included.")
	recvQueueDesc     = desc("recv_queue", "wsrep_local_recv_queue: write-sets received and not applied yet.")
	sendQueueDesc     = desc("send_queue", "wsrep_local_send_queue: write-sets waiting to be sent.")
	certFailDesc      = desc("cert_failures_total", "wsrep_local_cert_failures: transactions that failed certification.")
	bfAbortDesc       = desc("bf_aborts_total", "wsrep_local_bf_aborts: local transactions aborted by replicated ones.")
	fcPausedDesc      = desc("flow_control_paused_seconds_total", "wsrep_flow_control_paused_ns in seconds: time replication was paused by flow control.")
	fcRatioDesc       = desc("flow_control_paused_ratio", "Share of the last poll interval that replication was paused by flow control (from wsrep_flow_control_paused_ns).")
	fcSentDesc        = desc("flow_control_sent_total", "wsrep_flow_control_sent: pause requests this node sent.")
	fcRecvDesc        = desc("flow_control_recv_total", "wsrep_flow_control_recv: pause requests this node received.")
	replBytesDesc     = desc("replicated_bytes_total", "wsrep_replicated_bytes: write-set bytes this node sent.")
	recvBytesDesc     = desc("received_bytes_total", "wsrep_received_bytes: write-set bytes this node received.")
	latencyDesc       = desc("repl_latency_seconds", "wsrep_evs_repl_latency over Galera's last sampling period.", "stat")
	gcacheDesc        = desc("gcache_size_bytes", "gcache.size: the write history kept for joiners (IST).")
	headroomDesc      = desc("gcache_headroom_seconds", "gcache.size divided by the write rate (bytes sent and received) of the last poll interval: about how long a member may be away and still catch up by IST instead of a full SST. Absent while nothing is written.")

	localStates     = []galera.LocalState{galera.StateUnknown, galera.StateJoining, galera.StateDonor, galera.StateJoined, galera.StateSynced}
	clusterStatuses = []string{"Primary", "non-Primary", "Disconnected"}
)

// Galera is the Domain of a Galera node.
func Galera(prev, cur *galera.Sample, emit Emit) {
	g := prometheus.GaugeValue
	known := false
	for _, st := range localStates {
		emit(localStateDesc, g, b2f(cur.LocalState == st), st.String())
		known = known || cur.LocalState == st
	}
	if !known {
		emit(localStateDesc, g, 1, cur.LocalState.String())
	}
	known = false
	for _, st := range clusterStatuses {
		emit(clusterStatusDesc, g, b2f(cur.ClusterStatus == st), st)
		known = known || cur.ClusterStatus == st
	}
	if !known && cur.ClusterStatus != "" {
		emit(clusterStatusDesc, g, 1, cur.ClusterStatus)
	}
	emit(clusterSizeDesc, g, float64(cur.ClusterSize))
	emit(localIndexDesc, g, float64(cur.LocalIndex))
	emit(lastCommittedDesc, g, float64(cur.LastCommitted))
	emit(clusterInfoDesc, g, 1, cur.ClusterUUID, cur.NodeName)
	if cur.Version != "" {
		emit(versionDesc, g, 1, cur.Version, cur.ProviderVersion)
	}
	emit(desyncDesc, g, b2f(cur.Desync))
	emit(readOnlyDesc, g, b2f(cur.ReadOnly))
	emit(threadsDesc, g, float64(cur.ThreadsConnected))

	st := cur.Stats
	known64 := func(d *prometheus.Desc, vt prometheus.ValueType, v int64, scale float64) {
		if v != galera.Unknown {
			emit(d, vt, float64(v)*scale)
		}
	}
	c := prometheus.CounterValue
	known64(confIDDesc, g, st.ConfID, 1)
	known64(recvQueueDesc, g, st.RecvQueue, 1)
	known64(sendQueueDesc, g, st.SendQueue, 1)
	known64(certFailDesc, c, st.CertFailures, 1)
	known64(bfAbortDesc, c, st.BFAborts, 1)
	known64(fcPausedDesc, c, st.FlowControlPausedNs, 1e-9)
	known64(fcSentDesc, c, st.FlowControlSent, 1)
	known64(fcRecvDesc, c, st.FlowControlRecv, 1)
	known64(replBytesDesc, c, st.ReplicatedBytes, 1)
	known64(recvBytesDesc, c, st.ReceivedBytes, 1)
	known64(gcacheDesc, g, st.GcacheSize, 1)
	if st.ReplLatencyAvg != galera.Unknown {
		emit(latencyDesc, g, st.ReplLatencyAvg, "avg")
		emit(latencyDesc, g, st.ReplLatencyMax, "max")
	}
	if r, ok := Rates(prev, cur); ok {
		emit(fcRatioDesc, g, r.PausedRatio)
		if r.BytesPerSecond > 0 && st.GcacheSize > 0 {
			emit(headroomDesc, g, float64(st.GcacheSize)/r.BytesPerSecond)
		}
	}
}

// PollRates are what changed between two samples, per second of the
// interval between them.
type PollRates struct {
	// PausedRatio is the share of the interval that flow control paused
	// replication, 0 to 1.
	PausedRatio float64
	// BytesPerSecond is write-set bytes sent and received per second.
	BytesPerSecond float64
}

// Rates computes PollRates from two samples of the same mariadbd; ok is
// false when they cannot be compared (no earlier sample, counters
// unknown, or a counter went back: mariadbd restarted in between).
func Rates(prev, cur *galera.Sample) (PollRates, bool) {
	if prev == nil {
		return PollRates{}, false
	}
	dt := cur.At.Sub(prev.At).Seconds()
	a, b := prev.Stats, cur.Stats
	if dt <= 0 {
		return PollRates{}, false
	}
	for _, pair := range [][2]int64{{a.FlowControlPausedNs, b.FlowControlPausedNs}, {a.ReplicatedBytes, b.ReplicatedBytes}, {a.ReceivedBytes, b.ReceivedBytes}} {
		if pair[0] == galera.Unknown || pair[1] == galera.Unknown || pair[1] < pair[0] {
			return PollRates{}, false
		}
	}
	paused := float64(b.FlowControlPausedNs-a.FlowControlPausedNs) / 1e9 / dt
	return PollRates{
		PausedRatio:    min(paused, 1),
		BytesPerSecond: float64(b.ReplicatedBytes-a.ReplicatedBytes+b.ReceivedBytes-a.ReceivedBytes) / dt,
	}, true
}
