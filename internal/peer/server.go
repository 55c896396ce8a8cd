package peer

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// MinTokenBytes is the shortest shared token accepted.
const MinTokenBytes = 16

// ErrOverrideRejected is returned by a Bootstrap hook that cannot take the
// override now (mariadbd already runs, or the name is wrong).
var ErrOverrideRejected = errors.New("override rejected")

// Server serves the peer API.
type Server struct {
	// Token is the shared secret every caller must present.
	Token string
	// State returns this sentinel's state; it must not block.
	State func() State
	// Bootstrap records the operator's override for the named node.
	Bootstrap func(node string) error
	Logger    *slog.Logger
}

// CheckToken validates a token read from a file or the environment.
func CheckToken(tok string) error {
	if len(tok) < MinTokenBytes {
		return fmt.Errorf("token is %d bytes; use at least %d (e.g. head -c 32 /dev/urandom | base64)", len(tok), MinTokenBytes)
	}
	if strings.ContainsAny(tok, " \t\r\n") {
		return errors.New("token contains white space")
	}
	return nil
}

// Register adds the peer endpoints to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/state", s.auth(http.HandlerFunc(s.state)))
	mux.Handle("POST /api/v1/bootstrap", s.auth(http.HandlerFunc(s.bootstrap)))
}

func (s *Server) auth(next http.Handler) http.Handler { return RequireToken(s.Token, s.Logger)(next) }

// RequireToken admits requests that carry "Authorization: Bearer <token>":
// 401 without credentials, 403 with wrong ones. The comparison runs in
// constant time over hashes, so neither the content nor the length of the
// token leaks through timing. With no token configured every request is
// refused with 403: an API without a token is switched off, not open.
func RequireToken(token string, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return requireToken(token, logger, next) }
}

func requireToken(token string, logger *slog.Logger, next http.Handler) http.Handler {
	if token == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "this API is off: start the sentinel with --token-file (or GALERA_SENTINEL_TOKEN)", http.StatusForbidden)
		})
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if h == "" || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="galera-sentinel"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		got := sha256.Sum256([]byte(tok))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			if logger != nil {
				logger.Warn("API: wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
			}
			http.Error(w, "wrong token", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
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
