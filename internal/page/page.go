// Package page is the cluster page a browser gets at "/": every member's
// state, verdict and reason, seqno and writer, the cluster's problems and
// the recent events of every member, refreshed every two seconds. One
// self-contained HTML document (no external assets: it works offline and
// behind any proxy) and the JSON it reads, GET /api/v1/cluster.
//
// It must not judge a member (it shows each sentinel's own verdicts and
// clusterview's problems), and a page view must cost the cluster no more
// than one fan-out of /status per second, however many browsers watch.
package page

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/clusterview"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

//go:embed cluster.html
var html []byte

// Getter fetches a sentinel's open JSON documents; peer.Client is the
// real one.
type Getter interface {
	Get(ctx context.Context, addr, path string, v any) error
}

// Page serves the cluster page and its data.
type Page struct {
	// Peers returns the sentinels to show (this one included).
	Peers func(ctx context.Context) ([]string, error)
	// Client asks them.
	Client Getter
	// Timeout bounds one refresh of the data.
	Timeout time.Duration

	mu     sync.Mutex
	cached []byte
	at     time.Time
}

// Doc is GET /api/v1/cluster.
type Doc struct {
	Generated time.Time            `json:"generated"`
	Healthy   bool                 `json:"healthy"`
	Problems  []string             `json:"problems"`
	Members   []clusterview.Member `json:"members"`
	// Events are the most recent events of every member that answered,
	// newest first.
	Events []journal.Event `json:"events"`
	// PeersError says why the members could not be listed.
	PeersError string `json:"peers_error,omitempty"`
}

// eventsShown is how many events the page lists, and asks each member for.
const eventsShown = 25

// cacheFor is how long one fan-out serves every viewer.
const cacheFor = time.Second

// Wants reports whether r is a browser asking for a page: its Accept
// names text/html. Load balancers (HAProxy sends none), curl (*/*) and
// scripts get the probe's answer at "/".
func Wants(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// ServeHTTP serves the page itself.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Nothing but itself: no script, style or image from anywhere else.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(html)
}

// Routes registers GET /api/v1/cluster.
func (p *Page) Routes() httpserver.Routes {
	return httpserver.RoutesFunc(func(mux *http.ServeMux) {
		mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(p.data(r.Context()))
		})
	})
}

// data is the cluster document, fetched at most once per cacheFor.
func (p *Page) data(ctx context.Context) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached != nil && time.Since(p.at) < cacheFor {
		return p.cached
	}
	ctx, cancel := context.WithTimeout(ctx, max(p.Timeout, time.Second))
	defer cancel()
	b, _ := json.Marshal(p.build(ctx))
	p.cached, p.at = b, time.Now()
	return b
}

func (p *Page) build(ctx context.Context) Doc {
	d := Doc{Generated: time.Now().UTC(), Problems: []string{}, Events: []journal.Event{}}
	addrs, err := p.Peers(ctx)
	if err != nil {
		d.PeersError = err.Error()
		d.Problems = append(d.Problems, "cannot list the members: "+err.Error())
		return d
	}
	// Both at once: a member that does not answer costs one timeout, not
	// two.
	events := make(chan []peer.Answer[[]journal.Event], 1)
	go func() {
		events <- peer.FanOut(ctx, addrs, func(ctx context.Context, addr string) ([]journal.Event, error) {
			var evs []journal.Event
			err := p.Client.Get(ctx, addr, "/api/v1/events?limit="+strconv.Itoa(eventsShown), &evs)
			return evs, err
		})
	}()
	d.Members = clusterview.Fetch(ctx, statusGetter{p.Client}, addrs)
	d.Problems = append(d.Problems, clusterview.Problems(d.Members)...)
	d.Healthy = len(d.Problems) == 0
	for _, a := range <-events {
		d.Events = append(d.Events, a.Value...)
	}
	sort.SliceStable(d.Events, func(i, j int) bool { return d.Events[i].Time.After(d.Events[j].Time) })
	d.Events = d.Events[:min(len(d.Events), eventsShown)]
	return d
}

// statusGetter adapts a Getter to clusterview's.
type statusGetter struct{ g Getter }

func (s statusGetter) Status(ctx context.Context, addr string, v any) error {
	return s.g.Get(ctx, addr, "/status", v)
}
