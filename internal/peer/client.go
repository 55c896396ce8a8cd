package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
)

// Client is the one HTTP client for other sentinels: their peer state
// (token-authenticated) and their public /status.
type Client struct {
	http    *http.Client
	stream  *http.Transport // for Stream: no response header bound of a call
	timeout time.Duration
	tokens  *httpserver.Tokens
	scheme  string
	tlsConf *tls.Config

	mu   sync.Mutex
	good map[string]string // per peer address, the token it took last
}

// NewClient returns a client that presents token (when not empty) and
// gives up on a call after timeout. With tlsConf set it speaks HTTPS and
// verifies peers.
func NewClient(token string, tlsConf *tls.Config, timeout time.Duration) *Client {
	return NewTokensClient(httpserver.StaticTokens(token), tlsConf, timeout)
}

// NewTokensClient is NewClient with a token set (nil: no token). A call
// presents the token this peer took last, else the set's first; a peer
// that refuses it (401 or 403) is asked again once with each other token
// in turn, and the one it takes is remembered for that address, so that
// in a steady state every call is one request, even while the peers of a
// rotation hold different tokens.
func NewTokensClient(tokens *httpserver.Tokens, tlsConf *tls.Config, timeout time.Duration) *Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       30 * time.Second,
		// Never route peer calls through a proxy from the environment.
		Proxy: nil,
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	stream := tr.Clone()
	stream.ResponseHeaderTimeout = 0 // Stream sets its own bound
	return &Client{http: &http.Client{Transport: tr, Timeout: timeout}, stream: stream, timeout: timeout,
		tokens: tokens, scheme: scheme, tlsConf: tlsConf, good: map[string]string{}}
}

// refused is an answer that says the token is not one the peer takes.
func refused(code int) bool { return code == http.StatusUnauthorized || code == http.StatusForbidden }

// IsTokenRefused reports whether err is a peer's refusal of every token
// this client has (its own tokens differ from the peer's).
func IsTokenRefused(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && refused(se.Code)
}

// authorized sends an authenticated request (see NewTokensClient). The
// caller closes the body.
func (c *Client) authorized(ctx context.Context, method, addr, path string) (*http.Response, error) {
	return c.authorizedWith(ctx, c.http, method, addr, path)
}

func (c *Client) authorizedWith(ctx context.Context, hc *http.Client, method, addr, path string) (*http.Response, error) {
	toks := c.tokens.Send()
	if len(toks) == 0 {
		return c.doWith(ctx, hc, method, addr, path, "")
	}
	c.mu.Lock()
	last := c.good[addr]
	c.mu.Unlock()
	if i := slices.Index(toks, last); i > 0 {
		toks = append([]string{last}, slices.Delete(toks, i, i+1)...)
	}
	for i, tok := range toks {
		resp, err := c.doWith(ctx, hc, method, addr, path, tok)
		if err != nil {
			return nil, err
		}
		if refused(resp.StatusCode) && i < len(toks)-1 {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			continue
		}
		if !refused(resp.StatusCode) {
			c.mu.Lock()
			c.good[addr] = tok
			c.mu.Unlock()
		}
		return resp, nil
	}
	panic("unreachable")
}

func (c *Client) do(ctx context.Context, method, addr, path, token string) (*http.Response, error) {
	return c.doWith(ctx, c.http, method, addr, path, token)
}

func (c *Client) doWith(ctx context.Context, hc *http.Client, method, addr, path, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.scheme+"://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, httpserver.TLSHint(err, c.tlsConf)
	}
	return resp, nil
}

// State fetches and validates the state of the sentinel at addr
// (host:port).
func (c *Client) State(ctx context.Context, addr string) (State, error) {
	resp, err := c.authorized(ctx, http.MethodGet, addr, "/api/v1/state")
	if err != nil {
		return State{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return State{}, &StatusError{Code: resp.StatusCode, Body: []byte(firstLine(resp))}
	}
	return DecodeState(resp.Body)
}

// Changed tells the sentinel at addr that this one's state changed, so
// that it refreshes its writer view now (POST /api/v1/changed).
func (c *Client) Changed(ctx context.Context, addr string) (struct{}, error) {
	resp, err := c.authorized(ctx, http.MethodPost, addr, "/api/v1/changed")
	if err != nil {
		return struct{}{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return struct{}{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, firstLine(resp))
	}
	return struct{}{}, nil
}

// Status fetches the /status document of the sentinel at addr and decodes
// it into v.
func (c *Client) Status(ctx context.Context, addr string, v any) error {
	return c.Get(ctx, addr, "/status", v)
}

// Get fetches one of the sentinel's open JSON documents (/status,
// /api/v1/events) at path and decodes it into v.
func (c *Client) Get(ctx context.Context, addr, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, addr, path, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStateBytes)).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// StatusError is a sentinel's answer other than 2xx to Post: its code
// and body (the JSON error document of the API, or a line of text).
type StatusError struct {
	Code int
	Body []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Code, clip(strings.Join(strings.Fields(string(e.Body)), " ")))
}

// Post calls one of the sentinel's token-protected actions at path (with
// its query) and decodes a 2xx JSON answer into v (nil: ignored). Any
// other answer is a *StatusError.
func (c *Client) Post(ctx context.Context, addr, path string, v any) error {
	resp, err := c.authorized(ctx, http.MethodPost, addr, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStateBytes))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Body: b}
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// Stream opens a token-authenticated GET of a long answer (a backup
// stream) at path: its headers must come within headerWait, and after
// that only ctx bounds it, not the client's call timeout. The caller
// closes the body.
func (c *Client) Stream(ctx context.Context, addr, path string, headerWait time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(headerWait, func() { cancel(fmt.Errorf("no answer within %s", headerWait)) })
	resp, err := c.authorizedWith(ctx, &http.Client{Transport: c.stream}, http.MethodGet, addr, path)
	fired := !t.Stop()
	if err != nil || fired {
		cause := context.Cause(ctx)
		cancel(nil)
		if err == nil {
			resp.Body.Close()
			return nil, cause
		}
		if fired && cause != nil {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: func() { cancel(nil) }}
	return resp, nil
}

// cancelBody ends the stream's context when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// Close drops idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
	c.stream.CloseIdleConnections()
}

func firstLine(resp *http.Response) string {
	sc := bufio.NewScanner(http.MaxBytesReader(nil, resp.Body, 512))
	if sc.Scan() {
		return clip(strings.TrimSpace(sc.Text()))
	}
	return resp.Status
}
