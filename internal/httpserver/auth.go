package httpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// MinTokenBytes is the shortest API token accepted.
const MinTokenBytes = 16

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

// RequireToken is RequireTokens with the one token given (none: the API
// is off).
func RequireToken(token string, logger *slog.Logger) func(http.Handler) http.Handler {
	return RequireTokens(StaticTokens(token), logger)
}

// RequireTokens admits requests that carry "Authorization: Bearer <token>"
// with any token of the set: 401 without credentials, 403 with wrong
// ones. The comparison runs in constant time over hashes (Tokens.Accept),
// so neither the content nor the length of a token leaks through timing.
// With no token configured every request is refused with 403: an API
// without a token is switched off, not open.
func RequireTokens(tokens *Tokens, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return requireTokens(tokens, logger, next) }
}

func requireTokens(tokens *Tokens, logger *slog.Logger, next http.Handler) http.Handler {
	if tokens == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "this API is off: start the sentinel with --token-file (or GALERA_SENTINEL_TOKEN)", http.StatusForbidden)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if h == "" || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="galera-sentinel"`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		if !tokens.Accept(tok) {
			if logger != nil {
				logger.Warn("API: wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
			}
			http.Error(w, "wrong token", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
