package mysqlstat

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// ErrNotGalera is returned when the server has no wsrep status at all: it
// was built without Galera or started without a provider.
var ErrNotGalera = errors.New("server reports no wsrep status: not a Galera node")

// errMalformed wraps a status whose values do not parse.
var errMalformed = errors.New("malformed status")

// ParseSample builds a Sample from SHOW GLOBAL STATUS and SHOW GLOBAL
// VARIABLES rows (lower-cased names). A value that is present but
// malformed is an error: the sentinel does not guess about a node.
func ParseSample(status, vars map[string]string, at time.Time) (galera.Sample, error) {
	s := galera.Sample{At: at}
	var errs []error
	onOff := func(m map[string]string, name string) bool {
		v, ok := m[name]
		if !ok {
			return false
		}
		switch strings.ToUpper(v) {
		case "ON", "1", "TRUE", "YES":
			return true
		case "OFF", "0", "FALSE", "NO", "":
			return false
		}
		errs = append(errs, fmt.Errorf("%s=%q: want ON or OFF", name, v))
		return false
	}
	num := func(name string) int64 {
		v, ok := status[name]
		if !ok || v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return n
		}
		// Galera prints "no index" (size_t)-1 as 18446744073709551615,
		// e.g. wsrep_local_index outside a Primary component.
		if u, uerr := strconv.ParseUint(v, 10, 64); uerr == nil && u == ^uint64(0) {
			return -1
		}
		errs = append(errs, fmt.Errorf("%s=%q: not a number", name, v))
		return 0
	}

	s.Version, s.ProviderVersion = clipVersion(vars["version"]), clipVersion(status["wsrep_provider_version"])
	s.WsrepOn = onOff(vars, "wsrep_on")
	if _, ok := status["wsrep_local_state"]; !ok {
		if !s.WsrepOn {
			// Provider not loaded: the node answers, and is not a Galera
			// member. The policy says so.
			return s, nil
		}
		return galera.Sample{}, ErrNotGalera
	}
	s.Connected = onOff(status, "wsrep_connected")
	s.Ready = onOff(status, "wsrep_ready")
	s.ClusterStatus = status["wsrep_cluster_status"]
	ls, err := galera.ParseLocalState(status["wsrep_local_state"])
	if err != nil {
		errs = append(errs, err)
	}
	s.LocalState = ls
	s.LocalIndex = int(num("wsrep_local_index"))
	s.ClusterSize = int(num("wsrep_cluster_size"))
	s.ClusterUUID = status["wsrep_cluster_state_uuid"]
	s.LastCommitted = num("wsrep_last_committed")
	s.NodeName = vars["wsrep_node_name"]
	s.ThreadsConnected = int(num("threads_connected"))
	s.Desync = onOff(vars, "wsrep_desync")
	s.RejectQueries = vars["wsrep_reject_queries"]
	s.ReadOnly = onOff(vars, "read_only")
	s.SSTDonorRejectsQueries = onOff(vars, "wsrep_sst_donor_rejects_queries")
	if err := errors.Join(errs...); err != nil {
		return galera.Sample{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	s.Stats = parseStats(status, vars)
	return s, nil
}

// parseStats reads the metrics-only values; what is missing or malformed
// stays galera.Unknown (see galera.Stats).
func parseStats(status, vars map[string]string) galera.Stats {
	st := galera.UnknownStats()
	counter := func(name string) int64 {
		n, err := strconv.ParseInt(status[name], 10, 64)
		if err != nil || n < 0 {
			return galera.Unknown
		}
		return n
	}
	st.ConfID = counter("wsrep_cluster_conf_id")
	st.RecvQueue = counter("wsrep_local_recv_queue")
	st.SendQueue = counter("wsrep_local_send_queue")
	st.CertFailures = counter("wsrep_local_cert_failures")
	st.BFAborts = counter("wsrep_local_bf_aborts")
	st.FlowControlPausedNs = counter("wsrep_flow_control_paused_ns")
	st.FlowControlSent = counter("wsrep_flow_control_sent")
	st.FlowControlRecv = counter("wsrep_flow_control_recv")
	st.ReplicatedBytes = counter("wsrep_replicated_bytes")
	st.ReceivedBytes = counter("wsrep_received_bytes")
	if avg, maxLatency, err := galera.ParseReplLatency(status["wsrep_evs_repl_latency"]); err == nil {
		st.ReplLatencyAvg, st.ReplLatencyMax = avg, maxLatency
	}
	if v, ok := galera.ProviderOption(vars["wsrep_provider_options"], "gcache.size"); ok {
		if n, err := galera.ParseSize(v); err == nil {
			st.GcacheSize = n
		}
	}
	return st
}

// clipVersion bounds a version string a server reports (shown, never
// parsed for a verdict).
func clipVersion(v string) string {
	if len(v) > 64 {
		v = v[:64]
	}
	return strings.ToValidUTF8(v, "")
}
