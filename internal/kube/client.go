// Package kube is a minimal Kubernetes API client for a sentinel running
// in a pod: it sets a label or a status condition on a named pod, with the
// pod's service account, over net/http alone (no client-go); it keeps the
// writer label and the Primary condition of its own pod in step with the
// member (Mark), and takes the pods of members that left the Primary
// component out of the Services (Departures).
package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ServiceAccountDir is where Kubernetes mounts a pod's service account:
// token, ca.crt and namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Config says where the API server and the service account are.
type Config struct {
	// Host and Port of the API server: a pod's KUBERNETES_SERVICE_HOST
	// and KUBERNETES_SERVICE_PORT.
	Host, Port string
	// Dir holds token, ca.crt and namespace (ServiceAccountDir when
	// empty).
	Dir string
	// Timeout bounds one call (5s when zero).
	Timeout time.Duration
}

// Client calls the API server as the pod's service account.
type Client struct {
	base      string // https://host:port
	tokenFile string
	namespace string
	http      *http.Client
	timeout   time.Duration
}

// InCluster checks the service account files and returns a client. The
// token is read again on every call: projected tokens are rotated (about
// hourly) by the kubelet, which rewrites the file.
func InCluster(cfg Config) (*Client, error) {
	if cfg.Host == "" || cfg.Port == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set: not in a Kubernetes pod")
	}
	dir := cfg.Dir
	if dir == "" {
		dir = ServiceAccountDir
	}
	ns, err := os.ReadFile(filepath.Join(dir, "namespace"))
	if err != nil {
		return nil, fmt.Errorf("the pod's namespace: %w (is a service account token mounted? automountServiceAccountToken)", err)
	}
	namespace := strings.TrimSpace(string(ns))
	if namespace == "" {
		return nil, fmt.Errorf("%s is empty", filepath.Join(dir, "namespace"))
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("the API server's CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", filepath.Join(dir, "ca.crt"))
	}
	c := &Client{
		base:      "https://" + net.JoinHostPort(cfg.Host, cfg.Port),
		tokenFile: filepath.Join(dir, "token"),
		namespace: namespace,
		timeout:   cfg.Timeout,
		http: &http.Client{Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     90 * time.Second,
		}},
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if _, err := c.token(); err != nil {
		return nil, err
	}
	return c, nil
}

// Namespace is the pod's namespace, where the client patches pods.
func (c *Client) Namespace() string { return c.namespace }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// token reads the service account token; it is never logged.
func (c *Client) token() (string, error) {
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("the service account token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", c.tokenFile)
	}
	return tok, nil
}

// SetPodLabel sets label key to value on pod name in the client's
// namespace with a JSON merge patch, within the client's timeout.
func (c *Client) SetPodLabel(ctx context.Context, pod, key, value string) error {
	if pod == "" {
		return errors.New("no pod name")
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{key: value}}})
	if err != nil {
		return err
	}
	return c.patch(ctx, pod, "", "application/merge-patch+json", body)
}

// Condition is one pod condition a sentinel sets: its type (a readiness
// gate's conditionType), status "True" or "False", a reason (CamelCase)
// and a message for people.
type Condition struct {
	Type, Status, Reason, Message string
}

// SetPodCondition sets conditions in pod name's status (the subresource
// pods/status) with one strategic merge patch, which replaces the
// conditions of those types and keeps the others. lastTransitionTime is
// the time of the call: a sentinel sets a condition only when it changes
// or to say it again.
func (c *Client) SetPodCondition(ctx context.Context, pod string, conds ...Condition) error {
	if pod == "" {
		return errors.New("no pod name")
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var list []map[string]string
	for _, cond := range conds {
		if cond.Status != "True" && cond.Status != "False" {
			return fmt.Errorf("condition %s: status %q, want True or False", cond.Type, cond.Status)
		}
		list = append(list, map[string]string{"type": cond.Type, "status": cond.Status, "reason": cond.Reason, "message": cond.Message, "lastTransitionTime": now})
	}
	if len(list) == 0 {
		return errors.New("no condition")
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": list}})
	if err != nil {
		return err
	}
	return c.patch(ctx, pod, "/status", "application/strategic-merge-patch+json", body)
}

// patch sends one patch of pod name (sub: "" or "/status").
func (c *Client) patch(ctx context.Context, pod, sub, contentType string, body []byte) error {
	tok, err := c.token()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	path := "/api/v1/namespaces/" + url.PathEscape(c.namespace) + "/pods/" + url.PathEscape(pod) + sub
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "galera-sentinel")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("patch pod %s/%s%s: %w", c.namespace, pod, sub, scrub(err, tok))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return c.statusError(resp.StatusCode, pod+sub, msg)
}

// statusError explains an answer that is not a success; for the common
// ones it says what to fix.
func (c *Client) statusError(code int, pod string, body []byte) error {
	var st struct {
		Message string `json:"message"`
	}
	reason := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		reason = st.Message
	}
	if len(reason) > 300 {
		reason = reason[:300] + "..."
	}
	what := fmt.Sprintf("patch pod %s/%s: %d %s", c.namespace, pod, code, http.StatusText(code))
	switch code {
	case http.StatusForbidden:
		resource := "pods"
		if strings.HasSuffix(pod, "/status") {
			resource = "pods/status"
		}
		return fmt.Errorf("%s: the pod's service account may not patch %s in namespace %s; it needs a Role with the rule apiGroups [\"\"], resources [%s], verbs [patch] (and [get, patch] on pods), bound to it by a RoleBinding (%s)", what, resource, c.namespace, resource, reason)
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: the API server refused the service account token (expired or revoked?) (%s)", what, reason)
	case http.StatusNotFound:
		return fmt.Errorf("%s: no such pod in namespace %s (--kube-pod-name, by default $POD_NAME or the host name) (%s)", what, c.namespace, reason)
	}
	return fmt.Errorf("%s (%s)", what, reason)
}

// scrub removes the token from an error's text, should a transport ever
// quote a header.
func scrub(err error, tok string) error {
	if tok != "" && strings.Contains(err.Error(), tok) {
		return errors.New(strings.ReplaceAll(err.Error(), tok, "<token>"))
	}
	return err
}
