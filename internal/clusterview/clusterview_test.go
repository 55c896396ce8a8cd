package clusterview

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// statuses answers with the documents of a test, as JSON over the wire
// would: the client-side type must decode what a sentinel sends.
type statuses map[string]string

func (s statuses) Status(_ context.Context, addr string, v any) error {
	doc, ok := s[addr]
	if !ok {
		return errors.New("connection refused")
	}
	return json.Unmarshal([]byte(doc), v)
}

func TestFetchAndRender(t *testing.T) {
	src := statuses{
		"10.0.0.1:9200": `{"ready":{"ok":true,"reason":"ready: Primary, Synced, size 2"},"writer":{"ok":true,"reason":"writer"},
			"sample":{"node_name":"g-0","cluster_status":"Primary","local_state":"Synced","local_index":0,"cluster_size":2,"last_committed":42,"threads_connected":3}}`,
		"10.0.0.2:9200": `{"ready":{"ok":false,"reason":"maintenance"},"maintenance":true,
			"sample":{"node_name":"g-1","cluster_status":"Primary","local_state":"Synced","local_index":1,"cluster_size":2,"last_committed":42,"threads_connected":1}}`,
		"10.0.0.3:9200": `{"ready":{"ok":false,"reason":"not started: wait: waiting for every expected member"},"hold":"wait","sample":null}`,
	}
	addrs := []string{"10.0.0.1:9200", "10.0.0.2:9200", "10.0.0.3:9200", "10.0.0.4:9200"}
	ms := Fetch(context.Background(), src, addrs)
	if down := Unreachable(ms); len(down) != 1 || down[0] != "10.0.0.4:9200" {
		t.Errorf("unreachable %q", down)
	}
	var b strings.Builder
	Render(&b, ms, "", nil)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range [][]string{
		{"MEMBER", "SENTINEL", "READY", "WHY"},
		{"g-0", "yes", "Primary/Synced", "42", "*", "2", "ready: Primary"},
		{"g-1", "no", "Primary/Synced (maintenance)", "maintenance"},
		{"-", "10.0.0.3:9200", "no", "not started", "waiting for every expected member"},
		{"-", "10.0.0.4:9200", "?", "unreachable", "connection refused"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}
