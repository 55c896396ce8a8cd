package mysqlstat

import (
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

func TestParseReplica(t *testing.T) {
	vars := map[string]string{"server_id": "2", "read_only": "ON", "gtid_binlog_pos": "0-1-5", "gtid_slave_pos": "0-1-5", "gtid_current_pos": "0-1-5", "version": "10.11.6-MariaDB"}
	row := map[string]string{"Master_Host": "db-0", "Master_Port": "3306", "Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes",
		"Last_IO_Errno": "2003", "Last_IO_Error": "can't connect", "Last_SQL_Errno": "0", "Seconds_Behind_Master": "", "SQL_Delay": "30"}
	s, err := ParseReplica(vars, map[string]string{"threads_connected": "4"}, row, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := s.Replica
	if s.ServerID != 2 || !s.ReadOnly || s.ThreadsConnected != 4 || r == nil || r.IO != replica.IOConnecting || !r.SQLRunning ||
		r.LastIOErrno != 2003 || r.SecondsBehindKnown || r.SQLDelay != 30 || r.Primary() != "db-0:3306" {
		t.Errorf("parsed %+v %+v", s, r)
	}
	if s, err := ParseReplica(vars, nil, nil, time.Now()); err != nil || s.Replica != nil {
		t.Errorf("no replica row: %+v, %v", s, err)
	}
	for name, bad := range map[string]func(){
		"read_only": func() { vars["read_only"] = "maybe" },
		"server_id": func() { vars["read_only"], vars["server_id"] = "ON", "x" },
	} {
		bad()
		if _, err := ParseReplica(vars, nil, nil, time.Now()); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("bad %s: %v", name, err)
		}
	}
	vars["server_id"] = "2"
	row["Slave_IO_Running"] = "Preparing"
	if _, err := ParseReplica(vars, nil, row, time.Now()); err == nil || !strings.Contains(err.Error(), "Slave_IO_Running") {
		t.Errorf("unknown IO state: %v", err)
	}
}

func TestHeartbeatTableName(t *testing.T) {
	c, _ := New(Config{Addr: "127.0.0.1:1"})
	for _, bad := range []string{"heartbeat", "a.b; DROP TABLE x", "a.b.c", "`a`.b"} {
		if _, err := NewReplicaSampler(c, ReplicaConfig{HeartbeatTable: bad}); err == nil {
			t.Errorf("heartbeat table %q accepted", bad)
		}
	}
	if _, err := NewReplicaSampler(c, ReplicaConfig{HeartbeatTable: "sentinel.heartbeat"}); err != nil {
		t.Error(err)
	}
}
