// Package httpserver is how the sentinel serves HTTP: listen before serve
// (a bad or busy address fails at start-up), limits that keep abusive
// clients from slowing probes, a bounded shutdown, TLS whose certificate is
// reloaded when its file changes, bearer-token auth, and one mux builder.
// Serve and run mode use it alike.
//
// It must not know any endpoint: the packages that own endpoints (health,
// peer) register them through Routes.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server limits. Probes are tiny bodiless requests: anything slower or
// bigger is abuse.
//
// The read timeout equals the header timeout: a probe has no body, and
// equal values spare net/http one deadline change per request. There is
// no write timeout: every answer (a verdict line, /status, a peer's state)
// is far smaller than a socket's send buffer, so a write never waits for a
// client that does not read; what a stuck connection could hold up,
// Shutdown bounds. Load balancers ask many times a second, and each
// deadline change costs a measurable share of the answer (bench/).
const (
	readHeaderTimeout = 2 * time.Second
	readTimeout       = readHeaderTimeout
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 8 << 10
	shutdownTimeout   = 5 * time.Second
)

// Routes is a group of endpoints that adds itself to a mux.
type Routes interface {
	Register(mux *http.ServeMux)
}

// RoutesFunc adapts a function to Routes.
type RoutesFunc func(mux *http.ServeMux)

// Register calls f.
func (f RoutesFunc) Register(mux *http.ServeMux) { f(mux) }

// NewMux builds the one mux a sentinel serves: every group's endpoints,
// with method patterns, and nothing from http.DefaultServeMux.
func NewMux(groups ...Routes) *http.ServeMux {
	mux := http.NewServeMux()
	for _, g := range groups {
		g.Register(mux)
	}
	return mux
}

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
