package page

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// docs answers like sentinels would, over JSON (the client-side types
// must decode what a sentinel sends).
type docs struct {
	status map[string]string
	events map[string]string
	calls  atomic.Int32
}

func (d *docs) Get(_ context.Context, addr, path string, v any) error {
	d.calls.Add(1)
	src := d.status
	if strings.HasPrefix(path, "/api/v1/events") {
		src = d.events
	}
	doc, ok := src[addr]
	if !ok {
		return errors.New("connection refused")
	}
	return json.Unmarshal([]byte(doc), v)
}

func TestClusterDocument(t *testing.T) {
	d := &docs{
		status: map[string]string{
			"a:9200": `{"ready":{"ok":true,"reason":"ready: Primary, Synced, size 2"},"writer":{"ok":true,"role":"writer"},
				"sample":{"node_name":"n1","cluster_status":"Primary","local_state":"Synced","cluster_size":2,"cluster_state_uuid":"u"}}`,
			"b:9200": `{"ready":{"ok":true,"reason":"ready: Primary, Synced, size 2"},
				"sample":{"node_name":"n2","cluster_status":"Primary","local_state":"Synced","cluster_size":2,"cluster_state_uuid":"u"}}`,
		},
		events: map[string]string{
			"a:9200": `[{"time":"2026-12-01T18:00:00Z","node":"n1","kind":"start"},{"time":"2026-12-01T18:00:05Z","node":"n1","kind":"verdict","probe":"ready","ok":true}]`,
			"b:9200": `[{"time":"2026-12-01T18:00:03Z","node":"n2","kind":"decision","reason":"join: ..."}]`,
		},
	}
	p := &Page{Peers: func(context.Context) ([]string, error) { return []string{"a:9200", "b:9200", "c:9200"}, nil }, Client: d, Timeout: time.Second}
	mux := http.NewServeMux()
	p.Routes().Register(mux)
	get := func() Doc {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/cluster", nil))
		var doc Doc
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || w.Code != 200 {
			t.Fatalf("%d %v: %s", w.Code, err, w.Body.String())
		}
		return doc
	}
	doc := get()
	if doc.Healthy || len(doc.Members) != 3 || doc.Members[2].Err == "" {
		t.Errorf("members %+v healthy %v", doc.Members, doc.Healthy)
	}
	if len(doc.Problems) == 0 || !strings.Contains(doc.Problems[0], "c:9200: no answer") {
		t.Errorf("problems %q", doc.Problems)
	}
	if len(doc.Events) != 3 || doc.Events[0].Kind != "verdict" || doc.Events[1].Kind != "decision" || doc.Events[2].Kind != "start" {
		t.Errorf("events not merged newest first: %+v", doc.Events)
	}
	// Many viewers within a second: one fan-out.
	calls := d.calls.Load()
	for range 20 {
		get()
	}
	if got := d.calls.Load(); got != calls {
		t.Errorf("20 page refreshes within a second made %d more calls to the members", got-calls)
	}

	p2 := &Page{Peers: func(context.Context) ([]string, error) { return nil, errors.New("lookup galera-peers: no such host") }, Client: d}
	mux2 := http.NewServeMux()
	p2.Routes().Register(mux2)
	w := httptest.NewRecorder()
	mux2.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/cluster", nil))
	if !strings.Contains(w.Body.String(), "cannot list the members: lookup galera-peers") {
		t.Errorf("no peers: %s", w.Body.String())
	}
}

func TestPageIsSelfContained(t *testing.T) {
	w := httptest.NewRecorder()
	(&Page{}).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	body := w.Body.String()
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, "/api/v1/cluster") {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Content-Type"))
	}
	for _, external := range []string{"http://", "https://", "//cdn", "<link ", "src="} {
		if strings.Contains(body, external) {
			t.Errorf("the page refers to something outside itself: %q", external)
		}
	}
	if strings.Contains(body, "innerHTML") {
		t.Error("the page builds markup from strings: a peer's reason could inject into it")
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestWants(t *testing.T) {
	for accept, want := range map[string]bool{
		"": false, "*/*": false, "text/plain": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": true,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		if got := Wants(r); got != want {
			t.Errorf("Accept %q: %v, want %v", accept, got, want)
		}
	}
}
