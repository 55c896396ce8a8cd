package mysqlstat

import (
	"errors"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

func goodStatus() map[string]string {
	return map[string]string{
		"wsrep_ready": "ON", "wsrep_connected": "ON", "wsrep_cluster_status": "Primary", "wsrep_local_state": "4",
		"wsrep_local_index": "2", "wsrep_cluster_size": "3", "wsrep_cluster_state_uuid": "6d1e7a1c-e5d5-11f1-af80-3bed973a687b",
		"wsrep_last_committed": "27",
	}
}

func goodVars() map[string]string {
	return map[string]string{"wsrep_on": "ON", "wsrep_desync": "OFF", "wsrep_reject_queries": "NONE", "read_only": "OFF",
		"wsrep_sst_donor_rejects_queries": "OFF", "wsrep_node_name": "node3"}
}

func TestParseSample(t *testing.T) {
	at := time.Unix(1, 0)
	s, err := ParseSample(goodStatus(), goodVars(), at)
	if err != nil {
		t.Fatal(err)
	}
	want := galera.Sample{At: at, WsrepOn: true, Connected: true, Ready: true, ClusterStatus: "Primary",
		LocalState: galera.StateSynced, LocalIndex: 2, ClusterSize: 3, ClusterUUID: "6d1e7a1c-e5d5-11f1-af80-3bed973a687b",
		LastCommitted: 27, NodeName: "node3", RejectQueries: "NONE", Stats: galera.UnknownStats()}
	if s != want {
		t.Errorf("got %+v\nwant %+v", s, want)
	}

	// The metrics-only values: read when present and well formed, Unknown
	// otherwise, and never a reason to fail the sample.
	st := goodStatus()
	for k, v := range map[string]string{"wsrep_cluster_conf_id": "7", "wsrep_local_recv_queue": "3", "wsrep_local_send_queue": "0",
		"wsrep_local_cert_failures": "11", "wsrep_local_bf_aborts": "2", "wsrep_flow_control_paused_ns": "123456789",
		"wsrep_flow_control_sent": "4", "wsrep_flow_control_recv": "5", "wsrep_replicated_bytes": "1000", "wsrep_received_bytes": "2000",
		"wsrep_evs_repl_latency": "0.000123/0.000456/0.00789/0.0001/12"} {
		st[k] = v
	}
	vs := goodVars()
	vs["wsrep_provider_options"] = "base_dir = /var/lib/mysql/; gcache.name = galera.cache; gcache.size = 128M; gcs.fc_limit = 16"
	s, err = ParseSample(st, vs, at)
	wantStats := galera.Stats{ConfID: 7, RecvQueue: 3, SendQueue: 0, CertFailures: 11, BFAborts: 2, FlowControlPausedNs: 123456789,
		FlowControlSent: 4, FlowControlRecv: 5, ReplicatedBytes: 1000, ReceivedBytes: 2000, ReplLatencyAvg: 0.000456, ReplLatencyMax: 0.00789,
		GcacheSize: 128 << 20}
	if err != nil || s.Stats != wantStats {
		t.Errorf("stats: got %+v, %v\nwant %+v", s.Stats, err, wantStats)
	}
	st["wsrep_local_recv_queue"], st["wsrep_evs_repl_latency"] = "lots", "0/0/0"
	vs["wsrep_provider_options"] = "gcache.size = big"
	s, err = ParseSample(st, vs, at)
	if err != nil || s.Stats.RecvQueue != galera.Unknown || s.Stats.ReplLatencyAvg != galera.Unknown || s.Stats.GcacheSize != galera.Unknown || s.Stats.ConfID != 7 {
		t.Errorf("malformed stats: got %+v, %v; want those Unknown, the rest read, no error", s.Stats, err)
	}

	// Outside a Primary component Galera prints (size_t)-1 as the index.
	st = goodStatus()
	st["wsrep_local_index"] = "18446744073709551615"
	st["wsrep_cluster_status"] = "non-Primary"
	if s, err := ParseSample(st, goodVars(), at); err != nil || s.LocalIndex != -1 {
		t.Errorf("non-Primary index: %d, %v", s.LocalIndex, err)
	}

	// A server without the provider is reported, not guessed about.
	v := goodVars()
	v["wsrep_on"] = "OFF"
	if s, err := ParseSample(map[string]string{}, v, at); err != nil || s.WsrepOn {
		t.Errorf("wsrep_on=OFF: %+v, %v", s, err)
	}
	if _, err := ParseSample(map[string]string{}, goodVars(), at); !errors.Is(err, ErrNotGalera) {
		t.Errorf("wsrep_on=ON without status: %v, want ErrNotGalera", err)
	}

	for name, mutate := range map[string]func(st, v map[string]string){
		"state":     func(st, v map[string]string) { st["wsrep_local_state"] = "Synced" },
		"size":      func(st, v map[string]string) { st["wsrep_cluster_size"] = "three" },
		"ready":     func(st, v map[string]string) { st["wsrep_ready"] = "MAYBE" },
		"read_only": func(st, v map[string]string) { v["read_only"] = "sometimes" },
	} {
		st, v := goodStatus(), goodVars()
		mutate(st, v)
		if _, err := ParseSample(st, v, at); err == nil {
			t.Errorf("malformed %s accepted", name)
		}
	}
}

func FuzzParseSample(f *testing.F) {
	f.Add("ON", "Primary", "4", "0", "3", "27", "OFF")
	f.Add("OFF", "non-Primary", "1", "18446744073709551615", "1", "-1", "ON")
	f.Fuzz(func(t *testing.T, ready, status, state, index, size, last, ro string) {
		st := goodStatus()
		st["wsrep_ready"], st["wsrep_cluster_status"], st["wsrep_local_state"] = ready, status, state
		st["wsrep_local_index"], st["wsrep_cluster_size"], st["wsrep_last_committed"] = index, size, last
		v := goodVars()
		v["read_only"] = ro
		s, err := ParseSample(st, v, time.Unix(0, 0))
		if err == nil && s.LocalState < 0 {
			t.Errorf("accepted negative state %d", s.LocalState)
		}
	})
}
