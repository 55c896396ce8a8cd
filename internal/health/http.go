package health

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// Handlers serves the probe endpoints from a poller's snapshots.
type Handlers[S any] struct {
	poller *Poller[S]
	now    func() time.Time
	// lowestReady returns the lowest writer rank among the ready members,
	// or -1 when unknown (then the domain's default writer applies).
	lowestReady func() int
}

// NewHandlers returns the probe handlers over p.
func NewHandlers[S any](p *Poller[S]) *Handlers[S] { return &Handlers[S]{poller: p, now: time.Now} }

// SetWriterView tells /writerz the lowest writer rank among the ready
// members (run mode learns it from its peers), so that the writer moves as
// soon as the current one drains instead of when it leaves.
func (h *Handlers[S]) SetWriterView(lowestReady func() int) { h.lowestReady = lowestReady }

func (h *Handlers[S]) lowest() int {
	if h.lowestReady == nil {
		return -1
	}
	return h.lowestReady()
}

// Register adds the probe endpoints to mux.
//
// Probes answer GET and HEAD (the GET pattern covers both) and OPTIONS:
// HAProxy's bare `option httpchk`, and `option httpchk <uri>`, send
// OPTIONS, and clustercheck, which the sentinel replaces on port 9200,
// answered them. "/" is the readiness probe for the same reason. Other
// methods get 405, other paths 404.
func (h *Handlers[S]) Register(mux *http.ServeMux) {
	probes := []struct {
		path string
		f    http.HandlerFunc
	}{
		{"/readyz", h.ready}, {"/{$}", h.ready}, {"/livez", h.live}, {"/startupz", h.started}, {"/writerz", h.writer},
	}
	for _, p := range probes {
		mux.HandleFunc("GET "+p.path, p.f)
		mux.HandleFunc("OPTIONS "+p.path, p.f)
	}
	mux.HandleFunc("GET /status", h.status)
}

// RegisterAdmin adds the operator's endpoints to mux behind auth:
// POST /api/v1/maintenance?state=on|off drains the node or ends the drain.
func (h *Handlers[S]) RegisterAdmin(mux *http.ServeMux, auth func(http.Handler) http.Handler, logger *slog.Logger) {
	mux.Handle("POST /api/v1/maintenance", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var on bool
		switch st := r.URL.Query().Get("state"); st {
		case "on":
			on = true
		case "off":
		default:
			http.Error(w, fmt.Sprintf("state=%q: want POST /api/v1/maintenance?state=on or ?state=off", st), http.StatusBadRequest)
			return
		}
		if err := h.poller.SetMaintenance(on); err != nil {
			logger.Error("maintenance API", "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		logger.Warn("maintenance switched by the API", "maintenance", on, "remote", r.RemoteAddr)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if on {
			fmt.Fprintln(w, "maintenance on: /readyz and /writerz answer 503 maintenance")
		} else {
			fmt.Fprintln(w, "maintenance off")
		}
	})))
}

// The hot path: /readyz is what load balancers ask, many times a second.
// Its verdict and body were computed when the snapshot was published.
func (h *Handlers[S]) ready(w http.ResponseWriter, r *http.Request) {
	ok, body := h.poller.readyAnswer(h.poller.Snapshot(), h.now())
	writeAnswer(w, ok, body)
}

func (h *Handlers[S]) live(w http.ResponseWriter, r *http.Request) {
	writeVerdict(w, h.poller.judge.Live(h.poller.Snapshot().Observation, h.now()))
}

func (h *Handlers[S]) started(w http.ResponseWriter, r *http.Request) {
	writeVerdict(w, h.poller.judge.Started(h.poller.Snapshot().Observation))
}

func (h *Handlers[S]) writer(w http.ResponseWriter, r *http.Request) {
	s, now := h.poller.Snapshot(), h.now()
	writeVerdict(w, h.poller.judge.Writer(s.Observation, h.poller.Ready(s, now), h.lowest()))
}

// writeVerdict answers 200 or 503 with the reason on one line.
func writeVerdict(w http.ResponseWriter, v readiness.Verdict) {
	writeAnswer(w, v.OK, []byte(v.Reason+"\n"))
}

// writeAnswer answers 200 or 503 with a line of text. It sets no header:
// net/http copies the header map of every response a handler touched,
// which cost 6% of /readyz's throughput (bench/). The content type it
// detects for the line is text/plain; charset=utf-8, as before. Caching
// is not a concern on the path from a load balancer to its probe: the
// answer carries no lifetime and no Last-Modified for a cache to derive
// one from, and a 503 is not cacheable at all. /status keeps no-store.
func writeAnswer(w http.ResponseWriter, ok bool, body []byte) {
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write(body)
}

// StatusDoc is the JSON of GET /status.
type StatusDoc struct {
	Ready       VerdictDoc `json:"ready"`
	Live        VerdictDoc `json:"live"`
	Started     VerdictDoc `json:"started"`
	Writer      VerdictDoc `json:"writer"`
	Maintenance bool       `json:"maintenance"`
	// Stopping is set while run mode drains and stops mariadbd.
	Stopping bool `json:"stopping,omitempty"`
	// Hold is why run mode has not started mariadbd yet.
	Hold string `json:"hold,omitempty"`

	// Sample is the domain's document of the last good sample
	// (galera.SampleDoc); null before the first one.
	Sample any `json:"sample"`
	// SampleAgeSeconds is the age of the last good sample; -1 when none.
	SampleAgeSeconds    float64    `json:"sample_age_seconds"`
	LastError           string     `json:"last_error,omitempty"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	Polls               uint64     `json:"polls"`
	PollFailures        uint64     `json:"poll_failures"`
	PollDurationSeconds float64    `json:"poll_duration_seconds"`
}

// VerdictDoc is one verdict in StatusDoc.
type VerdictDoc struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// Status builds the status document of s at now.
func (p *Poller[S]) Status(s *Snapshot[S], now time.Time, lowestReady int) StatusDoc {
	vd := func(v readiness.Verdict) VerdictDoc { return VerdictDoc{v.OK, v.Reason} }
	j := p.judge
	ready := p.Ready(s, now)
	d := StatusDoc{
		Ready:               vd(ready),
		Live:                vd(j.Live(s.Observation, now)),
		Started:             vd(j.Started(s.Observation)),
		Writer:              vd(j.Writer(s.Observation, ready, lowestReady)),
		Maintenance:         s.Maintenance,
		Stopping:            s.Stopping,
		Hold:                s.Hold,
		SampleAgeSeconds:    -1,
		Polls:               s.Polls,
		PollFailures:        s.Failures,
		PollDurationSeconds: s.PollDuration.Seconds(),
	}
	if s.Err != nil {
		d.LastError = s.Err.Error()
	}
	if !s.FailingSince.IsZero() {
		t := s.FailingSince
		d.FailingSince = &t
	}
	if s.Last != nil {
		d.SampleAgeSeconds = now.Sub(s.LastAt).Seconds()
		d.Sample = j.Policy.Doc(s.Last)
	}
	return d
}

func (h *Handlers[S]) status(w http.ResponseWriter, r *http.Request) {
	d := h.poller.Status(h.poller.Snapshot(), h.now(), h.lowest())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d)
}

// Traffic is what a load-balancer integration (package haproxy) reports
// at now: the drain switches, the Ready verdict and the node's share.
func (p *Poller[S]) Traffic(now time.Time) Traffic {
	return TrafficAt(p.judge, p.Snapshot().Observation, now)
}

// TrafficAt is what a load balancer should know of o at now.
func TrafficAt[S any](j readiness.Judge[S], o readiness.Observation[S], now time.Time) Traffic {
	t := Traffic{Stopping: o.Stopping, Maintenance: o.Maintenance, Ready: j.Ready(o, now), Weight: 100}
	if t.Ready.OK {
		t.Weight = j.Policy.Weight(o.Last)
	}
	return t
}

// Traffic is the node's state as a load balancer should see it.
type Traffic struct {
	Stopping    bool // run mode drains before mariadbd stops
	Maintenance bool // the operator's drain
	Ready       readiness.Verdict
	Weight      int // percent of a full share, when ready
}
