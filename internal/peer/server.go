package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
)

// ErrOverrideRejected is returned by a Bootstrap hook that cannot take the
// override now (mariadbd already runs, or the name is wrong).
var ErrOverrideRejected = errors.New("override rejected")

// ErrOtherNode is returned by a Bootstrap hook for an override that names
// another node.
var ErrOtherNode = errors.New("override for another node")

// Override is the answer to POST /api/v1/bootstrap with Accept:
// application/json: the node that took the override and its address.
type Override struct {
	Node    string `json:"node"`
	Addr    string `json:"addr,omitempty"` // empty: this sentinel's own node
	Message string `json:"message"`
}

// Server serves the peer API.
type Server struct {
	// Token is the shared secret every caller must present.
	Token string
	// Tokens, when set, replaces Token: a caller presents any of them.
	Tokens *httpserver.Tokens
	// State returns this sentinel's state; it must not block.
	State func() State
	// Bootstrap records the operator's override for the named node. It
	// returns an error wrapping ErrOtherNode when node is not this one.
	Bootstrap func(node string) error
	// Forward, when set, hands an override for another node to that
	// node's sentinel (found among the peers by its name) and returns its
	// address: an operator can send the override to any member, e.g. with
	// kubectl exec into whichever pod runs. A forwarded request is never
	// forwarded again.
	Forward func(ctx context.Context, node string) (addr string, err error)
	// Changed, when set, is told that a peer's state just changed (it
	// stopped being ready, or became ready): the writer view refreshes at
	// once instead of at its next tick. It must not block.
	Changed func()
	Logger  *slog.Logger
}

// Register adds the peer endpoints to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/state", s.auth(http.HandlerFunc(s.state)))
	mux.Handle("POST /api/v1/bootstrap", s.auth(http.HandlerFunc(s.bootstrap)))
	if s.Changed != nil {
		mux.Handle("POST /api/v1/changed", s.auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.Changed()
			w.WriteHeader(http.StatusNoContent)
		})))
	}
}

func (s *Server) auth(next http.Handler) http.Handler {
	t := s.Tokens
	if t == nil {
		t = httpserver.StaticTokens(s.Token)
	}
	return httpserver.RequireTokens(t, s.Logger)(next)
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s.State())
}

// bootstrap takes the operator's override. The node must be named
// (?node=NAME). An override for this node is recorded here; one for
// another node is forwarded to it when Forward is set (and the request was
// not itself forwarded), so that a request sent to the wrong sentinel
// never overrides the wrong node.
func (s *Server) bootstrap(w http.ResponseWriter, r *http.Request) {
	node := r.URL.Query().Get("node")
	if node == "" {
		http.Error(w, "name the node to bootstrap: POST /api/v1/bootstrap?node=NAME", http.StatusBadRequest)
		return
	}
	if err := ValidName(node); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	answer := Override{Node: node, Message: fmt.Sprintf("override recorded: %s bootstraps at its next decision, unless it finds a Primary component to join", node)}
	err := s.Bootstrap(node)
	switch {
	case errors.Is(err, ErrOtherNode) && s.Forward != nil && r.URL.Query().Get("forwarded") == "":
		addr, ferr := s.Forward(r.Context(), node)
		if ferr != nil {
			code := http.StatusConflict
			var se *StatusError
			if errors.As(ferr, &se) && se.Code/100 == 4 {
				code = se.Code
			}
			http.Error(w, fmt.Sprintf("forwarding the override to %s: %s", node, oneline.Error(ferr)), code)
			return
		}
		answer.Addr = addr
		answer.Message = fmt.Sprintf("override forwarded to %s at %s: it bootstraps at its next decision, unless it finds a Primary component to join", node, addr)
	case err != nil:
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if s.Logger != nil {
		s.Logger.Warn("bootstrap override accepted", "node", node, "forwarded_to", answer.Addr, "remote", r.RemoteAddr)
	}
	if r.Header.Get("Accept") == "application/json" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(answer)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, answer.Message)
}
