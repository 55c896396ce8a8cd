package health

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
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
	// handover is how long a member that stopped being the writer, and
	// still could take writes, keeps answering as the writer;
	// writerUntil (UnixNano) is when the last writer verdict's window
	// ends.
	handover    time.Duration
	writerUntil atomic.Int64
	// lastRole is the writer role last answered (readiness.WriterRole+1;
	// 0: none yet), so that a change is recorded once.
	lastRole atomic.Int32
	// requests counts answers by endpoint and status code: one atomic add
	// on the hot path, read by metrics.
	requests [len(Endpoints)][len(answerCodes)]atomic.Uint64
	// page, when set, answers a browser at "/" (wantsPage says which
	// request is one); everything else there gets the readiness probe.
	page      http.Handler
	wantsPage func(*http.Request) bool
	// member, when set, is the run mode's own part of /status.
	member func() any
}

// SetMember adds run mode's document of its member to /status ("member").
func (h *Handlers[S]) SetMember(doc func() any) { h.member = doc }

// SetPage makes "/" answer the requests wants accepts (a browser's) with
// page; load balancers and scripts keep the readiness answer there.
func (h *Handlers[S]) SetPage(page http.Handler, wants func(*http.Request) bool) {
	h.page, h.wantsPage = page, wants
}

// NewHandlers returns the probe handlers over p.
func NewHandlers[S any](p *Poller[S]) *Handlers[S] { return &Handlers[S]{poller: p, now: p.cfg.Now} }

// Endpoints are the paths whose answers Handlers counts, in the order of
// Requests.
var Endpoints = [...]string{"/readyz", "/", "/livez", "/startupz", "/writerz", "/status"}

const (
	epReady = iota
	epRoot
	epLive
	epStarted
	epWriter
	epStatus
)

// answerCodes are the status codes the probe endpoints answer with.
var answerCodes = [...]int{http.StatusOK, http.StatusNotFound, http.StatusServiceUnavailable}

func codeIndex(code int) int {
	switch code {
	case http.StatusOK:
		return 0
	case http.StatusNotFound:
		return 1
	}
	return 2
}

func (h *Handlers[S]) count(ep, code int) { h.requests[ep][codeIndex(code)].Add(1) }

// RequestCount is how many answers of one code one endpoint gave.
type RequestCount struct {
	Endpoint string
	Code     int
	N        uint64
}

// Requests returns every endpoint's answers by code so far.
func (h *Handlers[S]) Requests() []RequestCount {
	var out []RequestCount
	for ep := range Endpoints {
		for c := range answerCodes {
			out = append(out, RequestCount{Endpoints[ep], answerCodes[c], h.requests[ep][c].Load()})
		}
	}
	return out
}

// SetWriterView tells /writerz the lowest writer rank among the ready
// members (run mode learns it from its peers), so that the writer moves as
// soon as the current one drains instead of when it leaves; and for how
// long a writer that hands over keeps answering 200 (make before break:
// its successor answers 200 at once, and a load balancer needs its rise
// count of checks to take it in).
func (h *Handlers[S]) SetWriterView(lowestReady func() int, handover time.Duration) {
	h.lowestReady, h.handover = lowestReady, handover
}

// WriterUntil is when this member's writer handover window ends: the
// last time it was judged the writer plus the window (the zero time when
// it never was, or there is no window).
func (h *Handlers[S]) WriterUntil() time.Time {
	if n := h.writerUntil.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

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
		{"/readyz", h.ready}, {"/{$}", h.root}, {"/livez", h.live}, {"/startupz", h.started}, {"/writerz", h.writer},
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
			fmt.Fprintln(w, "maintenance on: /readyz answers 503 maintenance, /writerz 404 (a writer in run mode hands over first)")
		} else {
			fmt.Fprintln(w, "maintenance off")
		}
	})))
}

// The hot path: /readyz is what load balancers ask, many times a second.
// Its verdict and body were computed when the snapshot was published.
func (h *Handlers[S]) ready(w http.ResponseWriter, r *http.Request) {
	ok, body := h.poller.readyAnswer(h.poller.Snapshot(), h.now())
	h.count(epReady, writeAnswer(w, ok, body))
}

func (h *Handlers[S]) root(w http.ResponseWriter, r *http.Request) {
	if h.page != nil && r.Method == http.MethodGet && h.wantsPage(r) {
		h.page.ServeHTTP(w, r)
		return
	}
	ok, body := h.poller.readyAnswer(h.poller.Snapshot(), h.now())
	h.count(epRoot, writeAnswer(w, ok, body))
}

func (h *Handlers[S]) live(w http.ResponseWriter, r *http.Request) {
	h.count(epLive, writeVerdict(w, h.poller.judge.Live(h.poller.Snapshot().Observation, h.now())))
}

func (h *Handlers[S]) started(w http.ResponseWriter, r *http.Request) {
	h.count(epStarted, writeVerdict(w, h.poller.judge.Started(h.poller.Snapshot().Observation, h.now())))
}

// writer answers 200 for the writer, 404 for a member that stands by (it
// could take writes but is not the writer: HAProxy's http-check
// disable-on-404 then lets its open sessions finish) and 503 for one that
// cannot take writes.
func (h *Handlers[S]) writer(w http.ResponseWriter, r *http.Request) {
	v := h.writerVerdict(h.poller.Snapshot(), h.now())
	w.WriteHeader(writerCodes[v.Role])
	_, _ = w.Write([]byte(v.Reason + "\n"))
	h.count(epWriter, writerCodes[v.Role])
}

var writerCodes = [...]int{readiness.Unfit: http.StatusServiceUnavailable, readiness.Standby: http.StatusNotFound, readiness.Writer: http.StatusOK}

// writerVerdict is the writer verdict at now with the handover window
// applied: a member that was the writer less than the window ago, and
// still could take writes, answers as the writer, so that the members
// hand over without a moment when none does.
func (h *Handlers[S]) writerVerdict(s *Snapshot[S], now time.Time) readiness.WriterVerdict {
	v := h.poller.judge.Writer(s.Observation, now, h.poller.Ready(s, now), h.lowest())
	switch {
	case v.Role == readiness.Writer:
		if h.handover > 0 {
			h.writerUntil.Store(now.Add(h.handover).UnixNano())
		}
	case v.Role == readiness.Standby:
		if left := time.Duration(h.writerUntil.Load() - now.UnixNano()); left > 0 {
			v = readiness.WriterVerdict{Role: readiness.Writer, Class: readiness.ClassHandingOver,
				Reason: fmt.Sprintf("writer, handing over (%.1fs left): %s", left.Seconds(), v.Reason)}
		}
	}
	if role := int32(v.Role) + 1; h.lastRole.Swap(role) != role {
		h.poller.rec.VerdictChanged("writer", v.Verdict(), now)
	}
	return v
}

// Writer is the writer verdict at now, as /writerz would answer it.
func (h *Handlers[S]) Writer(now time.Time) readiness.WriterVerdict {
	return h.writerVerdict(h.poller.Snapshot(), now)
}

// writeVerdict answers 200 or 503 with the reason on one line, and
// returns the code.
func writeVerdict(w http.ResponseWriter, v readiness.Verdict) int {
	return writeAnswer(w, v.OK, []byte(v.Reason+"\n"))
}

// writeAnswer answers 200 or 503 with a line of text. It sets no header:
// net/http copies the header map of every response a handler touched,
// which cost 6% of /readyz's throughput (bench/). The content type it
// detects for the line is text/plain; charset=utf-8, as before. Caching
// is not a concern on the path from a load balancer to its probe: the
// answer carries no lifetime and no Last-Modified for a cache to derive
// one from, and a 503 is not cacheable at all. /status keeps no-store.
func writeAnswer(w http.ResponseWriter, ok bool, body []byte) int {
	code := http.StatusServiceUnavailable
	if ok {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
	return code
}

// StatusDoc is the JSON of GET /status.
type StatusDoc struct {
	Ready       VerdictDoc `json:"ready"`
	Live        VerdictDoc `json:"live"`
	Started     VerdictDoc `json:"started"`
	Writer      WriterDoc  `json:"writer"`
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
	// ProgressAt and Progress are the member's last sign of progress, for
	// the stall rule of /livez (run mode with --stall-timeout).
	ProgressAt *time.Time `json:"progress_at,omitempty"`
	Progress   string     `json:"progress,omitempty"`
	// Member is run mode's own document of its member (versions, system
	// tables); absent in serve.
	Member any `json:"member,omitempty"`
}

// VerdictDoc is one verdict in StatusDoc.
type VerdictDoc struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason"`
}

// WriterDoc is the writer verdict in StatusDoc: ok for the writer, and
// the role ("writer", "standby", "unfit").
type WriterDoc struct {
	VerdictDoc
	Role string `json:"role"`
}

// Status builds the status document of s at now, with writer the verdict
// /writerz gives at the same moment.
func (p *Poller[S]) Status(s *Snapshot[S], now time.Time, writer readiness.WriterVerdict) StatusDoc {
	vd := func(v readiness.Verdict) VerdictDoc { return VerdictDoc{v.OK, v.Reason} }
	j := p.judge
	ready := p.Ready(s, now)
	d := StatusDoc{
		Ready:               vd(ready),
		Live:                vd(j.Live(s.Observation, now)),
		Started:             vd(j.Started(s.Observation, now)),
		Writer:              WriterDoc{VerdictDoc{writer.Role == readiness.Writer, writer.Reason}, writer.Role.String()},
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
	if !s.ProgressAt.IsZero() {
		t := s.ProgressAt
		d.ProgressAt, d.Progress = &t, s.Progress
	}
	if s.Last != nil {
		d.SampleAgeSeconds = now.Sub(s.LastAt).Seconds()
		d.Sample = j.Policy.Doc(s.Last)
	}
	return d
}

func (h *Handlers[S]) status(w http.ResponseWriter, r *http.Request) {
	snap, now := h.poller.Snapshot(), h.now()
	d := h.poller.Status(snap, now, h.writerVerdict(snap, now))
	if h.member != nil {
		d.Member = h.member()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d)
	h.count(epStatus, http.StatusOK)
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
