package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// Handlers serves the probe endpoints from a poller's snapshots.
type Handlers struct {
	poller *Poller
	now    func() time.Time
	// lowestReady returns the lowest wsrep_local_index among the ready
	// members, or -1 when unknown (then the writer is index 0).
	lowestReady func() int
}

// SetWriterView tells /writerz the lowest wsrep_local_index among the
// ready members (run mode learns it from its peers), so that the writer
// moves as soon as the current one drains instead of when it leaves.
func (h *Handlers) SetWriterView(lowestReady func() int) { h.lowestReady = lowestReady }

func (h *Handlers) lowest() int {
	if h.lowestReady == nil {
		return -1
	}
	return h.lowestReady()
}

// NewHandlers returns the probe handlers over p.
func NewHandlers(p *Poller) *Handlers { return &Handlers{poller: p, now: time.Now} }

// Register adds the probe endpoints to mux.
func (h *Handlers) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /readyz", h.ready)
	mux.HandleFunc("GET /{$}", h.ready) // clustercheck drop-in: LBs already probe "/"
	mux.HandleFunc("GET /livez", h.live)
	mux.HandleFunc("GET /startupz", h.started)
	mux.HandleFunc("GET /writerz", h.writer)
	mux.HandleFunc("GET /status", h.status)
}

// RegisterAdmin adds the operator's endpoints to mux behind auth:
// POST /api/v1/maintenance?state=on|off drains the node or ends the drain.
func (h *Handlers) RegisterAdmin(mux *http.ServeMux, auth func(http.Handler) http.Handler, logger *slog.Logger) {
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

func (h *Handlers) ready(w http.ResponseWriter, r *http.Request) {
	s := h.poller.Snapshot()
	writeVerdict(w, h.poller.Policy().Ready(s.Observation, h.now()))
}

func (h *Handlers) live(w http.ResponseWriter, r *http.Request) {
	s := h.poller.Snapshot()
	writeVerdict(w, h.poller.Policy().Live(s.Observation, h.now()))
}

func (h *Handlers) started(w http.ResponseWriter, r *http.Request) {
	s := h.poller.Snapshot()
	writeVerdict(w, h.poller.Policy().Started(s.Observation))
}

func (h *Handlers) writer(w http.ResponseWriter, r *http.Request) {
	s := h.poller.Snapshot()
	writeVerdict(w, h.poller.Policy().Writer(s.Observation, h.now(), h.lowest()))
}

// writeVerdict answers 200 or 503 with the reason on one line. Probes must
// never be cached by a proxy between the LB and us.
func writeVerdict(w http.ResponseWriter, v galera.Verdict) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	if v.OK {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = w.Write([]byte(v.Reason + "\n"))
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

	Sample *SampleDoc `json:"sample"` // null before the first good sample
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

// SampleDoc is a galera.Sample in StatusDoc.
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
}

// Status builds the status document at now.
func Status(s *Snapshot, pol galera.Policy, now time.Time, lowestReady int) StatusDoc {
	vd := func(v galera.Verdict) VerdictDoc { return VerdictDoc{v.OK, v.Reason} }
	d := StatusDoc{
		Ready:               vd(pol.Ready(s.Observation, now)),
		Live:                vd(pol.Live(s.Observation, now)),
		Started:             vd(pol.Started(s.Observation)),
		Writer:              vd(pol.Writer(s.Observation, now, lowestReady)),
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
	if l := s.Last; l != nil {
		d.SampleAgeSeconds = now.Sub(l.At).Seconds()
		d.Sample = &SampleDoc{
			At: l.At, NodeName: l.NodeName, ClusterStatus: l.ClusterStatus,
			LocalState: l.LocalState.String(), LocalStateCode: int(l.LocalState), LocalIndex: l.LocalIndex,
			ClusterSize: l.ClusterSize, ClusterUUID: l.ClusterUUID, LastCommitted: l.LastCommitted,
			WsrepOn: l.WsrepOn, WsrepReady: l.Ready, WsrepConnected: l.Connected, Desync: l.Desync,
			RejectQueries: l.RejectQueries, ReadOnly: l.ReadOnly, SSTDonorRejectsQueries: l.SSTDonorRejectsQueries,
			ThreadsConnected: l.ThreadsConnected,
		}
	}
	return d
}

func (h *Handlers) status(w http.ResponseWriter, r *http.Request) {
	d := Status(h.poller.Snapshot(), h.poller.Policy(), h.now(), h.lowest())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d)
}

// Server limits. Probes are tiny GETs: anything slower or bigger is abuse.
const (
	readHeaderTimeout = 2 * time.Second
	readTimeout       = 5 * time.Second
	writeTimeout      = 5 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	shutdownTimeout   = 5 * time.Second
)

// Listen opens the listener at once, so that a bad or busy address fails
// at start-up rather than in a goroutine.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx ends, then shuts down within a bound.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// Garbage from clients (TLS to a plain port, bad requests) is
		// the client's problem: log it at debug level only.
		ErrorLog: log.New(debugWriter{logger}, "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

type debugWriter struct{ log *slog.Logger }

func (d debugWriter) Write(p []byte) (int, error) {
	d.log.Debug("http server", "msg", string(p))
	return len(p), nil
}
