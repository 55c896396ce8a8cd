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
		return galera.Sample{}, fmt.Errorf("malformed status: %w", err)
	}
	return s, nil
}
