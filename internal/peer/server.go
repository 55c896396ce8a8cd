package peer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
)

// ErrOverrideRejected is returned by a Bootstrap hook that cannot take the
// override now (mariadbd already runs, or the name is wrong).
var ErrOverrideRejected = errors.New("override rejected")

// Server serves the peer API.
type Server struct {
	// Token is the shared secret every caller must present.
	Token string
	// Tokens, when set, replaces Token: a caller presents any of them.
	Tokens *httpserver.Tokens
	// State returns this sentinel's state; it must not block.
	State func() State
	// Bootstrap records the operator's override for the named node.
	Bootstrap func(node string) error
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
// (?node=NAME) and be this one, so that a request sent to the wrong
// sentinel does nothing.
func (s *Server) bootstrap(w http.ResponseWriter, r *http.Request) {
	node := r.URL.Query().Get("node")
	if node == "" {
		http.Error(w, "name the node to bootstrap: POST /api/v1/bootstrap?node=NAME", http.StatusBadRequest)
		return
	}
	if err := s.Bootstrap(node); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if s.Logger != nil {
		s.Logger.Warn("bootstrap override accepted", "node", node, "remote", r.RemoteAddr)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "override recorded: %s bootstraps at its next decision, unless it finds a Primary component to join\n", node)
}
