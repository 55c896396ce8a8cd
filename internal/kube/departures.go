package kube

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// PrimaryConditionType is the pod condition a sentinel keeps "True" on
// its own pod while its node is in a Primary component, and that the
// members of a Primary component set "False" on the pod of a member that
// left it. With a readiness gate of this type in the pod's spec, the pod
// is Ready only while its member is in the component: Services, the
// PodDisruptionBudget and the StatefulSet's rollout see a lost member at
// Galera's speed, not when Kubernetes notices its node is gone.
const PrimaryConditionType = "galera-sentinel.io/primary"

// ReadyConditionType is the pod's own Ready condition, which the kubelet
// computes (containers ready and every readiness gate True) and which
// EndpointSlices, the PodDisruptionBudget and rollouts read.
const ReadyConditionType = "Ready"

// Reasons of the conditions a sentinel sets.
const (
	ReasonInPrimary  = "InPrimaryComponent"
	ReasonNotPrimary = "NotInPrimaryComponent"
	ReasonLeft       = "LeftPrimaryComponent"
)

// Departures takes out of the Services the pods of members that left
// this member's Primary component (told on Run's channel, by the view
// keeper): their writer label "false", and their Primary condition and
// Ready condition "False" (Out sets what this sentinel keeps). A member
// whose node is powered off or cut off cannot do it for itself, and
// Kubernetes does it only when the node is declared NotReady
// (node-monitor-grace-period, 40 s and more).
//
// Why Ready itself: the kubelet computes Ready from the containers and the
// readiness gates, so on a lost node nobody would turn a gate's False
// into Ready False; the node lifecycle controller writes Ready False on
// the pods of a NotReady node, and this does the same, on Galera's word,
// within seconds. EndpointSlices (every Service, not only ours), the
// PodDisruptionBudget and rollouts read Ready. The gate's False keeps a
// kubelet that comes back from making the pod Ready again before its
// member is back in the component and its own sentinel says so (Mark).
//
// Before every try it asks Gone again: a member back in the component,
// or a view this member can no longer vouch for (it left the component
// itself, a view change is under way), is left alone.
type Departures struct {
	// Out takes the pod of the named member out of the Services.
	Out func(ctx context.Context, pod string) error
	// Gone tells whether the member is outside this member's Primary
	// component now.
	Gone func(name string) bool
	// Done, when set, is told each pod taken out (err nil) and the
	// first failure for each (err: why; it is tried again).
	Done func(pod string, err error)
	// Every is how often the pending pods are looked at (200ms);
	// RetryMin and RetryMax bound the pause after a failure (500ms, 30s).
	Every, RetryMin, RetryMax time.Duration
	Logger                    *slog.Logger
}

type departure struct {
	next  time.Time
	pause time.Duration
	tries int
	since time.Time
}

func (d *Departures) defaults() {
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&d.Every, 200*time.Millisecond)
	def(&d.RetryMin, 500*time.Millisecond)
	def(&d.RetryMax, 30*time.Second)
	d.RetryMax = max(d.RetryMax, d.RetryMin)
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run takes out the members told on in until ctx ends.
func (d *Departures) Run(ctx context.Context, in <-chan []string) {
	d.defaults()
	t := time.NewTicker(d.Every)
	defer t.Stop()
	pending := map[string]*departure{}
	for {
		select {
		case <-ctx.Done():
			return
		case names := <-in:
			for _, n := range names {
				if _, ok := pending[n]; !ok {
					pending[n] = &departure{pause: d.RetryMin, since: time.Now()}
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
			p := pending[n]
			if !d.Gone(n) {
				d.Logger.Info("a member that left the Primary component is back in it, or this member cannot tell any more: its pod is left alone", "member_pod", n, "tries", p.tries)
				delete(pending, n)
				continue
			}
			if time.Now().Before(p.next) {
				continue
			}
			p.tries++
			err := d.Out(ctx, n)
			switch {
			case err == nil:
				d.Logger.Warn("took the pod of a member that left the Primary component out of the Services", "member_pod", n,
					"after", time.Since(p.since).Round(time.Millisecond), "tries", p.tries)
				delete(pending, n)
				if d.Done != nil {
					d.Done(n, nil)
				}
			case ctx.Err() != nil:
				return
			default:
				d.Logger.Warn("taking the pod of a member that left the Primary component out of the Services", "member_pod", n, "err", err, "retry_in", p.pause, "tries", p.tries)
				p.next, p.pause = time.Now().Add(p.pause), min(2*p.pause, d.RetryMax)
				if d.Done != nil && p.tries == 1 {
					d.Done(n, err)
				}
			}
		}
	}
}
