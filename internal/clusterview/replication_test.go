package clusterview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
	"github.com/galera-sentinel/galera-sentinel/internal/replica"
)

func replMember(addr string, role replica.Role, ready bool, master string) ReplMember {
	lag := 0.4
	return ReplMember{Addr: addr, Status: &ReplStatus{
		StatusDoc: health.StatusDoc{Ready: health.VerdictDoc{OK: ready, Reason: map[bool]string{true: "ready", false: "lagging: 30s"}[ready]}},
		Sample:    &replica.SampleDoc{Role: role, MasterHost: master, MasterPort: 3306, IORunning: "Yes", SQLRunning: true, LagSeconds: &lag, LagSource: "gtid"},
	}}
}

func TestReplicationProblems(t *testing.T) {
	p := replMember("10.0.0.1:9200", replica.RolePrimary, true, "")
	r1 := replMember("10.0.0.2:9200", replica.RoleReplica, true, "10.0.0.1")
	tests := []struct {
		name string
		ms   []ReplMember
		want []string
	}{
		{"healthy", []ReplMember{p, r1}, nil},
		{"no primary", []ReplMember{r1}, []string{"no writable primary"}},
		{"two primaries", []ReplMember{p, replMember("10.0.0.3:9200", replica.RolePrimary, true, "")}, []string{"more than one writable primary: 10.0.0.1:9200, 10.0.0.3:9200"}},
		{"a lagging replica", []ReplMember{p, replMember("10.0.0.2:9200", replica.RoleReplica, false, "10.0.0.1")}, []string{"10.0.0.2:9200: replica not ready: lagging: 30s"}},
		{"a replica of another server", []ReplMember{p, replMember("10.0.0.2:9200", replica.RoleReplica, true, "10.0.0.9")}, []string{"replicates from 10.0.0.9, not from the primary 10.0.0.1:9200"}},
		{"unreachable", []ReplMember{p, {Addr: "10.0.0.4:9200", Err: "connection refused"}}, []string{"10.0.0.4:9200: no answer: connection refused"}},
	}
	for _, tt := range tests {
		got := ReplicationProblems(tt.ms)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tt.want[i]) {
				t.Errorf("%s: %q, want %q", tt.name, got[i], tt.want[i])
			}
		}
	}
	var b bytes.Buffer
	RenderReplication(&b, []ReplMember{p, r1})
	if out := b.String(); !strings.Contains(out, "0.4s gtid") || !strings.Contains(out, "10.0.0.1:3306") || !strings.Contains(out, "primary") {
		t.Errorf("table:\n%s", out)
	}
}
