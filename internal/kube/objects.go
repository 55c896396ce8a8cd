package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The calls a sentinel makes to rebuild a member whose node is gone
// (Rebuild): read the member's pod, its claims, their volumes and the
// nodes; delete a pod or a claim, always with the UID read as a
// precondition, so that a newer object of the same name is never touched.

// ErrNotFound: the API server has no such object (404).
var ErrNotFound = errors.New("not found")

// ErrConflict: the object's UID is no longer the one read, or another
// conflict (409): somebody else acted first.
var ErrConflict = errors.New("conflict")

// OutOfServiceTaint is the taint key by which Kubernetes' administrators
// declare a node shut down for good (non-graceful node shutdown): its
// pods and their volumes may be released.
const OutOfServiceTaint = "node.kubernetes.io/out-of-service"

// HostnameLabel is the node label a local volume's node affinity names.
const HostnameLabel = "kubernetes.io/hostname"

// Pod is what the rebuild reads of a pod.
type Pod struct {
	Name, UID string
	// Node is spec.nodeName: empty while unscheduled.
	Node string
	// Deleting: metadata.deletionTimestamp is set.
	Deleting bool
	Phase    string
	// Claims are the names of the PersistentVolumeClaims it mounts.
	Claims []string
	// Grace is spec.terminationGracePeriodSeconds: how long the kubelet
	// waits after SIGTERM before it kills the containers (Kubernetes'
	// default, 30 s, when the spec leaves it out).
	Grace time.Duration
}

// Claim is what the rebuild reads of a PersistentVolumeClaim.
type Claim struct {
	Name, UID string
	// Volume is spec.volumeName: empty while unbound.
	Volume   string
	Deleting bool
}

// Volume is what the rebuild reads of a PersistentVolume.
type Volume struct {
	Name string
	// Hosts are the node hostnames its required node affinity pins it
	// to; empty when it may be used from nodes not named by hostname
	// (a zonal cloud disk, a network volume).
	Hosts []string
}

// Node is what the rebuild reads of a Node.
type Node struct {
	Name string
	// OutOfService: the node carries the taint OutOfServiceTaint.
	OutOfService bool
}

type objectMeta struct {
	Name              string  `json:"name"`
	UID               string  `json:"uid"`
	DeletionTimestamp *string `json:"deletionTimestamp"`
}

// Pod reads pod name in the client's namespace.
func (c *Client) Pod(ctx context.Context, name string) (Pod, error) {
	var p struct {
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			NodeName                      string `json:"nodeName"`
			TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds"`
			Volumes                       []struct {
				PersistentVolumeClaim *struct {
					ClaimName string `json:"claimName"`
				} `json:"persistentVolumeClaim"`
			} `json:"volumes"`
		} `json:"spec"`
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	}
	if err := c.get(ctx, c.nsPath("pods", name), "pod "+c.namespace+"/"+name, &p); err != nil {
		return Pod{}, err
	}
	out := Pod{Name: p.Metadata.Name, UID: p.Metadata.UID, Node: p.Spec.NodeName, Deleting: p.Metadata.DeletionTimestamp != nil, Phase: p.Status.Phase, Grace: 30 * time.Second}
	if g := p.Spec.TerminationGracePeriodSeconds; g != nil && *g >= 0 {
		out.Grace = time.Duration(*g) * time.Second
	}
	for _, v := range p.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != "" {
			out.Claims = append(out.Claims, v.PersistentVolumeClaim.ClaimName)
		}
	}
	return out, nil
}

// Claim reads PersistentVolumeClaim name in the client's namespace.
func (c *Client) Claim(ctx context.Context, name string) (Claim, error) {
	var p struct {
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			VolumeName string `json:"volumeName"`
		} `json:"spec"`
	}
	if err := c.get(ctx, c.nsPath("persistentvolumeclaims", name), "claim "+c.namespace+"/"+name, &p); err != nil {
		return Claim{}, err
	}
	return Claim{Name: p.Metadata.Name, UID: p.Metadata.UID, Volume: p.Spec.VolumeName, Deleting: p.Metadata.DeletionTimestamp != nil}, nil
}

type nodeSelectorTerm struct {
	MatchExpressions []struct {
		Key      string   `json:"key"`
		Operator string   `json:"operator"`
		Values   []string `json:"values"`
	} `json:"matchExpressions"`
}

// Volume reads PersistentVolume name (cluster-wide).
func (c *Client) Volume(ctx context.Context, name string) (Volume, error) {
	var p struct {
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			NodeAffinity *struct {
				Required *struct {
					NodeSelectorTerms []nodeSelectorTerm `json:"nodeSelectorTerms"`
				} `json:"required"`
			} `json:"nodeAffinity"`
		} `json:"spec"`
	}
	if err := c.get(ctx, "/api/v1/persistentvolumes/"+url.PathEscape(name), "volume "+name, &p); err != nil {
		return Volume{}, err
	}
	v := Volume{Name: p.Metadata.Name}
	if p.Spec.NodeAffinity != nil && p.Spec.NodeAffinity.Required != nil {
		v.Hosts = pinnedHosts(p.Spec.NodeAffinity.Required.NodeSelectorTerms)
	}
	return v, nil
}

// pinnedHosts are the hostnames a volume's required node selector terms
// allow when every term (they are ORed) names its hosts with
// "kubernetes.io/hostname In [...]"; nil when a term allows a node by
// something else alone (a zone): such a volume is not one node's.
func pinnedHosts(terms []nodeSelectorTerm) []string {
	var hosts []string
	for _, t := range terms {
		named := false
		for _, e := range t.MatchExpressions {
			if e.Key == HostnameLabel && e.Operator == "In" && len(e.Values) > 0 {
				named = true
				for _, h := range e.Values {
					if !slices.Contains(hosts, h) {
						hosts = append(hosts, h)
					}
				}
			}
		}
		if !named {
			return nil
		}
	}
	return hosts
}

type nodeObject struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		Taints []struct {
			Key string `json:"key"`
		} `json:"taints"`
	} `json:"spec"`
}

func (n nodeObject) node() Node {
	out := Node{Name: n.Metadata.Name}
	for _, t := range n.Spec.Taints {
		if t.Key == OutOfServiceTaint {
			out.OutOfService = true
		}
	}
	return out
}

// Node reads Node name.
func (c *Client) Node(ctx context.Context, name string) (Node, error) {
	var n nodeObject
	if err := c.get(ctx, "/api/v1/nodes/"+url.PathEscape(name), "node "+name, &n); err != nil {
		return Node{}, err
	}
	return n.node(), nil
}

// NodesWithHostname lists the Nodes labelled kubernetes.io/hostname=host.
func (c *Client) NodesWithHostname(ctx context.Context, host string) ([]Node, error) {
	var l struct {
		Items []nodeObject `json:"items"`
	}
	q := url.Values{"labelSelector": {HostnameLabel + "=" + host}}
	if err := c.get(ctx, "/api/v1/nodes?"+q.Encode(), "nodes with hostname "+host, &l); err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(l.Items))
	for _, n := range l.Items {
		out = append(out, n.node())
	}
	return out, nil
}

// DeletePod deletes pod name if its UID is still uid; force deletes it at
// once (grace period 0), as for a pod whose node is gone and whose
// kubelet will never confirm.
func (c *Client) DeletePod(ctx context.Context, name, uid string, force bool) error {
	opts := map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]string{"uid": uid}}
	if force {
		opts["gracePeriodSeconds"] = 0
	}
	return c.delete(ctx, c.nsPath("pods", name), "pod "+c.namespace+"/"+name, uid, opts)
}

// DeleteClaim deletes PersistentVolumeClaim name if its UID is still uid.
func (c *Client) DeleteClaim(ctx context.Context, name, uid string) error {
	opts := map[string]any{"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": map[string]string{"uid": uid}}
	return c.delete(ctx, c.nsPath("persistentvolumeclaims", name), "claim "+c.namespace+"/"+name, uid, opts)
}

func (c *Client) nsPath(resource, name string) string {
	return "/api/v1/namespaces/" + url.PathEscape(c.namespace) + "/" + resource + "/" + url.PathEscape(name)
}

func (c *Client) get(ctx context.Context, path, what string, into any) error {
	body, err := c.call(ctx, http.MethodGet, path, "get "+what, nil)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("get %s: the API server's answer is not the object: %w", what, err)
	}
	return nil
}

func (c *Client) delete(ctx context.Context, path, what, uid string, opts map[string]any) error {
	if uid == "" {
		return fmt.Errorf("delete %s: no UID to delete it by", what)
	}
	body, err := json.Marshal(opts)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, http.MethodDelete, path, "delete "+what, body)
	return err
}

// call makes one request within the client's timeout and returns the
// answer's body (at most 4 MiB) on a 2xx.
func (c *Client) call(ctx context.Context, method, path, what string, body []byte) ([]byte, error) {
	tok, err := c.token()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "galera-sentinel")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, scrub(err, tok))
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", what, scrub(err, tok))
	}
	if resp.StatusCode/100 == 2 {
		return msg, nil
	}
	reason := apiReason(msg)
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s: %w (%s)", what, ErrNotFound, reason)
	case http.StatusConflict:
		return nil, fmt.Errorf("%s: %w: it changed since it was read (%s)", what, ErrConflict, reason)
	case http.StatusForbidden:
		return nil, fmt.Errorf("%s: 403 Forbidden: the pod's service account may not; --kube-rebuild-lost needs get on pods and persistentvolumeclaims, delete on both, and get on persistentvolumes and get, list on nodes (deploy/kubernetes/components/rebuild-lost) (%s)", what, reason)
	case http.StatusUnauthorized:
		return nil, fmt.Errorf("%s: the API server refused the service account token (expired or revoked?) (%s)", what, reason)
	}
	return nil, fmt.Errorf("%s: %d %s (%s)", what, resp.StatusCode, http.StatusText(resp.StatusCode), reason)
}

// apiReason is the message of a Status the API server answered, else the
// body itself, cut short.
func apiReason(body []byte) string {
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
	return reason
}
