package clusterview

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
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

func TestProblems(t *testing.T) {
	doc := func(name, status, state, uuid string, size int) string {
		return `{"ready":{"ok":true,"reason":"ready"},"sample":{"node_name":"` + name + `","cluster_status":"` + status +
			`","local_state":"` + state + `","cluster_size":` + strconv.Itoa(size) + `,"cluster_state_uuid":"` + uuid + `"}}`
	}
	docv := func(name, version string) string {
		return `{"ready":{"ok":true,"reason":"ready"},"sample":{"node_name":"` + name + `","cluster_status":"Primary","local_state":"Synced","cluster_size":3,` +
			`"cluster_state_uuid":"6d1e7a1c-e5d5-11f1-af80-3bed973a687b","version":"` + version + `"}}`
	}
	docl := func(name, lib string) string {
		return `{"ready":{"ok":true,"reason":"ready"},"sample":{"node_name":"` + name + `","cluster_status":"Primary","local_state":"Synced","cluster_size":3,` +
			`"cluster_state_uuid":"6d1e7a1c-e5d5-11f1-af80-3bed973a687b","version":"10.11.19-MariaDB","wsrep_provider_version":"` + lib + `"}}`
	}
	doct := func(name, sum string, settled bool) string {
		return `{"ready":{"ok":true,"reason":"ready"},"sample":{"node_name":"` + name + `","cluster_status":"Primary","local_state":"Synced","cluster_size":3,` +
			`"cluster_state_uuid":"6d1e7a1c-e5d5-11f1-af80-3bed973a687b"},"member":{"system_tables":{"checksum":"` + sum + `","parts":"db=` + sum +
			`","settled":` + strconv.FormatBool(settled) + `}}}`
	}
	const u1, u2 = "6d1e7a1c-e5d5-11f1-af80-3bed973a687b", "0a3f5e10-e5d8-11f1-9c1e-6a0b1f2e3d4c"
	addrs := []string{"a:9200", "b:9200", "c:9200"}
	for _, tc := range []struct {
		name string
		src  statuses
		want []string // substrings, one per problem, in order
	}{
		{"healthy", statuses{"a:9200": doc("n1", "Primary", "Synced", u1, 3), "b:9200": doc("n2", "Primary", "Synced", u1, 3),
			"c:9200": doc("n3", "Primary", "Donor/Desynced", u1, 3)}, nil},
		{"a member missing, the others a component of two", statuses{"a:9200": doc("n1", "Primary", "Synced", u1, 2),
			"b:9200": doc("n2", "Primary", "Synced", u1, 2)},
			[]string{"c:9200: no answer: connection refused", "the Primary component has 2 of the 3 members asked"}},
		{"partitioned", statuses{"a:9200": doc("n1", "Primary", "Synced", u1, 2), "b:9200": doc("n2", "Primary", "Synced", u1, 2),
			"c:9200": doc("n3", "non-Primary", "Initialized", u1, 1)},
			[]string{"n3: not in a Primary component (non-Primary, Initialized)", "the Primary component has 2 of the 3"}},
		{"split brain, one UUID", statuses{"a:9200": doc("n1", "Primary", "Synced", u1, 2), "b:9200": doc("n2", "Primary", "Synced", u1, 2),
			"c:9200": doc("n3", "Primary", "Synced", u1, 1)},
			[]string{"two Primary components: 3 members are Primary (n1, n2, n3), the largest component has 2",
				"disagree on the cluster size: 1 (n3), 2 (n1, n2)"}},
		{"a rolling upgrade under way", statuses{"a:9200": docv("n1", "10.11.19-MariaDB-0+deb12u1"), "b:9200": docv("n2", "11.4.5-MariaDB"), "c:9200": docv("n3", "10.11.19-MariaDB-0+deb12u1")},
			[]string{"mixed MariaDB versions: 10.11.19 (n1, n3), 11.4.5 (n2): a rolling upgrade is under way; until every member runs 11.4.5, run no DDL and grant no privilege 10.11.19 lacks"}},
		{"versions that may not be mixed", statuses{"a:9200": docv("n1", "10.11.19-MariaDB"), "b:9200": docv("n2", "11.8.9-MariaDB"), "c:9200": docv("n3", "10.11.19-MariaDB")},
			[]string{"mixed MariaDB versions: 10.11.19 (n1, n3), 11.8.9 (n2)", "11.4 lies between (10.11 → 11.4 → 11.8): stop every member, then start them all on 11.8.9"}},
		{"mixed Galera libraries", statuses{"a:9200": docl("n1", "26.4.21(r1)"), "b:9200": docl("n2", "26.4.20(r0)"), "c:9200": docl("n3", "26.4.21(r1)")},
			[]string{"mixed Galera libraries: 26.4.20(r0) (n2), 26.4.21(r1) (n1, n3): the cluster speaks the protocols of the oldest"}},
		{"one Galera library", statuses{"a:9200": docl("n1", "26.4.23(r1)"), "b:9200": docl("n2", "26.4.23(r1)"), "c:9200": docl("n3", "26.4.23(r1)")}, nil},
		{"a member's privilege tables differ", statuses{"a:9200": doct("n1", "aaa", true), "b:9200": doct("n2", "bbb", true), "c:9200": doct("n3", "aaa", true)},
			[]string{"system tables differ, which Galera does not report: n2 (db=bbb) and n1, n3 (db=aaa)"}},
		{"a GRANT on its way: not settled yet", statuses{"a:9200": doct("n1", "aaa", true), "b:9200": doct("n2", "bbb", false), "c:9200": doct("n3", "aaa", true)}, nil},
		{"one version", statuses{"a:9200": docv("n1", "10.11.19-MariaDB"), "b:9200": docv("n2", "10.11.19-MariaDB"), "c:9200": docv("n3", "10.11.19-MariaDB")}, nil},
		{"two clusters", statuses{"a:9200": doc("n1", "Primary", "Synced", u1, 1), "b:9200": doc("n2", "Primary", "Synced", u2, 1),
			"c:9200": `{"ready":{"ok":false,"reason":"not started: wait: 2 of 3 expected members answered"},"sample":null}`},
			[]string{"c:9200: no sample of its node: not started: wait", "two or more clusters: members name cluster UUIDs " + u2 + " (n2) and " + u1 + " (n1)",
				"two Primary components: 2 members are Primary"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Problems(Fetch(context.Background(), tc.src, addrs))
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("problem %d: %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}
