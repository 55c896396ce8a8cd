package galera

import "time"

// SampleDoc is a Sample as GET /status shows it.
type SampleDoc struct {
	At                     time.Time `json:"at"`
	NodeName               string    `json:"node_name"`
	ClusterStatus          string    `json:"cluster_status"`
	LocalState             string    `json:"local_state"`
	LocalStateCode         int       `json:"local_state_code"`
	LocalIndex             int       `json:"local_index"`
	ClusterSize            int       `json:"cluster_size"`
	ClusterUUID            string    `json:"cluster_state_uuid"`
	LastCommitted          int64     `json:"last_committed"`
	WsrepOn                bool      `json:"wsrep_on"`
	WsrepReady             bool      `json:"wsrep_ready"`
	WsrepConnected         bool      `json:"wsrep_connected"`
	Desync                 bool      `json:"wsrep_desync"`
	RejectQueries          string    `json:"wsrep_reject_queries"`
	ReadOnly               bool      `json:"read_only"`
	SSTDonorRejectsQueries bool      `json:"wsrep_sst_donor_rejects_queries"`
	ThreadsConnected       int       `json:"threads_connected"`
	Version                string    `json:"version,omitempty"`
	ProviderVersion        string    `json:"wsrep_provider_version,omitempty"`
}

// Doc returns the /status form of s.
func (s *Sample) Doc() *SampleDoc {
	return &SampleDoc{
		At: s.At, NodeName: s.NodeName, ClusterStatus: s.ClusterStatus,
		LocalState: s.LocalState.String(), LocalStateCode: int(s.LocalState), LocalIndex: s.LocalIndex,
		ClusterSize: s.ClusterSize, ClusterUUID: s.ClusterUUID, LastCommitted: s.LastCommitted,
		WsrepOn: s.WsrepOn, WsrepReady: s.Ready, WsrepConnected: s.Connected, Desync: s.Desync,
		RejectQueries: s.RejectQueries, ReadOnly: s.ReadOnly, SSTDonorRejectsQueries: s.SSTDonorRejectsQueries,
		ThreadsConnected: s.ThreadsConnected, Version: s.Version, ProviderVersion: s.ProviderVersion,
	}
}

// MemberDoc is run mode's part of a Galera member's /status ("member"):
// what `status` compares across members beyond the sample.
type MemberDoc struct {
	// MariaDBVersion is the member's mariadbd binary's version;
	// DataVersion the newest that wrote its data directory.
	MariaDBVersion string `json:"mariadb_version,omitempty"`
	DataVersion    string `json:"data_version,omitempty"`
	// SystemTables is the last check of its privilege tables and
	// upgrade marker (absent before the first, or when off).
	SystemTables *SystemTablesDoc `json:"system_tables,omitempty"`
}

// SystemTablesDoc is one member's fingerprint of what Galera does not
// compare: mysql.global_priv, mysql.db, mysql.tables_priv (CHECKSUM
// TABLE) and mariadb-upgrade's marker.
type SystemTablesDoc struct {
	// Checksum is a digest of the three checksums and the marker.
	Checksum string `json:"checksum,omitempty"`
	// Parts are what the digest is of, for people.
	Parts string `json:"parts,omitempty"`
	// Settled: the checksum has not changed for two checks at least
	// (a GRANT reaches the members a moment apart: only settled
	// checksums are compared).
	Settled   bool      `json:"settled"`
	CheckedAt time.Time `json:"checked_at"`
	Error     string    `json:"error,omitempty"`
}
