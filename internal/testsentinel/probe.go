package testsentinel

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// ProbeClient is the HTTP client of the probe helpers; a probe that takes
// a second is a failure, whatever the test measures.
var ProbeClient = &http.Client{Timeout: time.Second}

// TryProbe GETs url and returns the status code and the trimmed body.
func TryProbe(url string) (int, string, error) {
	resp, err := ProbeClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// WaitProbe probes url every 20 ms until it answers code with a body
// containing want, and returns how long that took; it fails t after
// within. It does not hold each answer to a time budget: the serve fault
// tests do that with their own probe, and elsewhere the wall time of one
// GET on a loaded machine says more about the machine than the sentinel.
func WaitProbe(t testing.TB, url string, code int, want string, within time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	var lastCode int
	var lastBody string
	for time.Since(begin) < within {
		c, body, err := TryProbe(url)
		if err == nil && c == code && strings.Contains(body, want) {
			return time.Since(begin)
		}
		lastCode, lastBody = c, body
		if err != nil {
			lastBody = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still %d %q after %v; want %d %q", url, lastCode, lastBody, within, code, want)
	return 0
}
