package peer

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Client is the one HTTP client for other sentinels: their peer state
// (token-authenticated) and their public /status.
type Client struct {
	http   *http.Client
	token  string
	scheme string
}

// NewClient returns a client that presents token (when not empty) and
// gives up on a call after timeout. With tlsConf set it speaks HTTPS and
// verifies peers.
func NewClient(token string, tlsConf *tls.Config, timeout time.Duration) *Client {
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
	return &Client{http: &http.Client{Transport: tr, Timeout: timeout}, token: token, scheme: scheme}
}

// State fetches and validates the state of the sentinel at addr
// (host:port).
func (c *Client) State(ctx context.Context, addr string) (State, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme+"://"+addr+"/api/v1/state", nil)
	if err != nil {
		return State{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return State{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return State{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, firstLine(resp))
	}
	return DecodeState(resp.Body)
}

// Changed tells the sentinel at addr that this one's state changed, so
// that it refreshes its writer view now (POST /api/v1/changed).
func (c *Client) Changed(ctx context.Context, addr string) (struct{}, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.scheme+"://"+addr+"/api/v1/changed", nil)
	if err != nil {
		return struct{}{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.scheme+"://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.scheme+"://"+addr+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
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

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func firstLine(resp *http.Response) string {
	sc := bufio.NewScanner(http.MaxBytesReader(nil, resp.Body, 512))
	if sc.Scan() {
		return clip(strings.TrimSpace(sc.Text()))
	}
	return resp.Status
}
