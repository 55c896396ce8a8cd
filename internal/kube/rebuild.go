package kube

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// API is what Rebuild needs of the API server; *Client is the real one.
type API interface {
	Pod(ctx context.Context, name string) (Pod, error)
	Claim(ctx context.Context, name string) (Claim, error)
	Volume(ctx context.Context, name string) (Volume, error)
	Node(ctx context.Context, name string) (Node, error)
	NodesWithHostname(ctx context.Context, host string) ([]Node, error)
	DeletePod(ctx context.Context, name, uid string, force bool) error
	DeleteClaim(ctx context.Context, name, uid string) error
}

// Steps Rebuild takes.
const (
	// StepPodDeleted: the member's pod was on a node declared gone; it is
	// deleted at once (its kubelet will never confirm), and the
	// StatefulSet makes a new one.
	StepPodDeleted = "pod-deleted"
	// StepClaimDeleted: the member's new pod cannot be scheduled, its
	// claim bound to a volume on a node declared gone; the claim is
	// deleted, and the StatefulSet makes a new one for a new pod.
	StepClaimDeleted = "claim-deleted"
	// StepPendingPodDeleted: the member's pod waits for a claim that is
	// gone or going; it is deleted so that the StatefulSet makes the
	// claim and the pod anew.
	StepPendingPodDeleted = "pending-pod-deleted"
)

// Step is one thing Rebuild did.
type Step struct {
	Pod, Action string
	// Object is what was deleted ("pod galera-1", "claim data-galera-1").
	Object string
	// Why says what was found, for the journal and the log.
	Why string
}

// Rebuild makes way for a member to be rebuilt on another node once
// Kubernetes or an administrator has declared its node gone: the Node
// carries the taint node.kubernetes.io/out-of-service, or the Node object
// was deleted. Kubernetes alone leaves such a member down: its pod stays
// Terminating for ever unless it is force deleted, and the StatefulSet's
// new pod stays Pending as long as its claim is bound to a volume pinned
// to the gone node (local storage). Rebuild force deletes the pod and
// deletes the claim; the StatefulSet makes both anew, the scheduler puts
// the pod on another node with a new volume, and the member joins by
// state transfer.
//
// Safety. It acts only on members told on Run's channel (they left this
// member's Primary component, which has quorum), and checks Gone again
// right before each deletion: the members of a Primary component hold
// every committed transaction, so the lost member's volume holds nothing
// else. It acts only on a declaration: a node merely NotReady may be
// partitioned with its member running; a node declared out of service
// or deleted is shut down by the administrator's word. Every deletion
// carries the UID that was read, so a newer pod or claim of the same name
// is never touched.
type Rebuild struct {
	API API
	// Gone tells whether the member is outside this member's Primary
	// component now.
	Gone func(name string) bool
	// Did, when set, is told each step taken; Failed the first failure of
	// a member's round (it is tried again).
	Did    func(Step)
	Failed func(pod string, err error)
	// Every is how often the lost members are looked at (2s); a failed
	// round waits RetryMin doubling up to RetryMax (2s, 30s).
	Every, RetryMin, RetryMax time.Duration
	Logger                    *slog.Logger
}

func (r *Rebuild) defaults() {
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&r.Every, 2*time.Second)
	def(&r.RetryMin, 2*time.Second)
	def(&r.RetryMax, 30*time.Second)
	r.RetryMax = max(r.RetryMax, r.RetryMin)
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
}

type lost struct {
	since      time.Time
	next       time.Time
	pause      time.Duration
	failures   int
	lastReport string
}

// Run follows the members told on in until they are back in this
// member's Primary component, or this member cannot tell any more, or
// ctx ends.
func (r *Rebuild) Run(ctx context.Context, in <-chan []string) {
	r.defaults()
	t := time.NewTicker(r.Every)
	defer t.Stop()
	pending := map[string]*lost{}
	for {
		select {
		case <-ctx.Done():
			return
		case names := <-in:
			for _, n := range names {
				if _, ok := pending[n]; !ok {
					pending[n] = &lost{since: time.Now(), pause: r.RetryMin}
				}
			}
		case <-t.C:
		}
		names := make([]string, 0, len(pending))
		for n := range pending {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			l := pending[n]
			if !r.Gone(n) {
				r.Logger.Info("a lost member is back in the Primary component, or this member cannot tell any more: no rebuild from here", "member_pod", n,
					"after", time.Since(l.since).Round(time.Second))
				delete(pending, n)
				continue
			}
			if time.Now().Before(l.next) {
				continue
			}
			step, report, err := r.Once(ctx, n)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				l.failures++
				r.Logger.Warn("rebuilding a lost member", "member_pod", n, "err", err, "retry_in", l.pause)
				if r.Failed != nil && l.failures == 1 {
					r.Failed(n, err)
				}
				l.next, l.pause = time.Now().Add(l.pause), min(2*l.pause, r.RetryMax)
				continue
			case step != nil:
				r.Logger.Warn("rebuilding a lost member: "+step.Action, "member_pod", n, "deleted", step.Object, "why", step.Why)
				if r.Did != nil {
					r.Did(*step)
				}
			case report != l.lastReport:
				r.Logger.Info("a lost member: nothing to do for now", "member_pod", n, "why", report)
			}
			l.lastReport, l.failures, l.pause, l.next = report, 0, r.RetryMin, time.Time{}
		}
	}
}

// Once looks at member pod's objects and takes at most one step; report
// says why it took none.
func (r *Rebuild) Once(ctx context.Context, pod string) (step *Step, report string, err error) {
	p, err := r.API.Pod(ctx, pod)
	if errors.Is(err, ErrNotFound) {
		return nil, "no pod: the StatefulSet makes a new one", nil
	}
	if err != nil {
		return nil, "", err
	}
	if p.Node != "" {
		gone, why, err := r.nodeGone(ctx, p.Node)
		if err != nil || !gone {
			return nil, "its pod is on node " + p.Node + ", which is not declared gone (out-of-service taint or deleted)", err
		}
		return r.deletePod(ctx, p, true, StepPodDeleted, fmt.Sprintf("pod %s is on node %s, %s: its kubelet will never confirm the deletion; force deleted, the StatefulSet makes a new pod", p.Name, p.Node, why))
	}
	if p.Deleting {
		return nil, "its unscheduled pod is being deleted", nil
	}
	for _, name := range p.Claims {
		c, err := r.API.Claim(ctx, name)
		if errors.Is(err, ErrNotFound) || err == nil && c.Deleting {
			return r.deletePod(ctx, p, false, StepPendingPodDeleted, fmt.Sprintf("pod %s waits for claim %s, which is gone or being deleted: deleted, the StatefulSet makes the claim and the pod anew", p.Name, name))
		}
		if err != nil {
			return nil, "", err
		}
		if c.Volume == "" {
			continue // the scheduler binds it with the pod
		}
		v, err := r.API.Volume(ctx, c.Volume)
		if errors.Is(err, ErrNotFound) {
			continue // the claim is Lost; nothing here says its node is gone
		}
		if err != nil {
			return nil, "", err
		}
		if len(v.Hosts) == 0 {
			continue // not one node's: it follows the pod
		}
		var whys []string
		for _, h := range v.Hosts {
			gone, why, err := r.hostGone(ctx, h)
			if err != nil {
				return nil, "", err
			}
			if !gone {
				return nil, fmt.Sprintf("claim %s is bound to volume %s of node %s, which is not declared gone", c.Name, v.Name, h), nil
			}
			whys = append(whys, "node "+h+" "+why)
		}
		if !r.Gone(pod) {
			return nil, "back in the Primary component", nil
		}
		err = r.API.DeleteClaim(ctx, c.Name, c.UID)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
			return nil, "claim " + c.Name + " changed while it was looked at", nil
		}
		if err != nil {
			return nil, "", err
		}
		return &Step{Pod: pod, Action: StepClaimDeleted, Object: "claim " + c.Name,
			Why: fmt.Sprintf("pod %s cannot be scheduled: claim %s is bound to volume %s, pinned to %s; deleted with its data, which the Primary component holds (the volume is left Released for an administrator), the member is rebuilt by state transfer", p.Name, c.Name, v.Name, strings.Join(whys, ", "))}, "", nil
	}
	return nil, "its pod waits to be scheduled, and no claim of it is bound to a gone node", nil
}

func (r *Rebuild) deletePod(ctx context.Context, p Pod, force bool, action, why string) (*Step, string, error) {
	if !r.Gone(p.Name) {
		return nil, "back in the Primary component", nil
	}
	err := r.API.DeletePod(ctx, p.Name, p.UID, force)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) {
		return nil, "pod " + p.Name + " changed while it was looked at", nil
	}
	if err != nil {
		return nil, "", err
	}
	return &Step{Pod: p.Name, Action: action, Object: "pod " + p.Name, Why: why}, "", nil
}

// nodeGone: Node name is deleted or declared out of service.
func (r *Rebuild) nodeGone(ctx context.Context, name string) (bool, string, error) {
	n, err := r.API.Node(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return true, "whose Node object is deleted", nil
	}
	if err != nil {
		return false, "", err
	}
	if n.OutOfService {
		return true, "tainted " + OutOfServiceTaint, nil
	}
	return false, "", nil
}

// hostGone: no Node has hostname host any more, or every one that has is
// declared out of service.
func (r *Rebuild) hostGone(ctx context.Context, host string) (bool, string, error) {
	nodes, err := r.API.NodesWithHostname(ctx, host)
	if err != nil {
		return false, "", err
	}
	if len(nodes) == 0 {
		return true, "(no Node has that hostname: deleted)", nil
	}
	for _, n := range nodes {
		if !n.OutOfService {
			return false, "", nil
		}
	}
	return true, "(tainted " + OutOfServiceTaint + ")", nil
}
