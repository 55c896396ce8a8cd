package recovery

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/oneline"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
)

// StateGetter fetches one peer's state; peer.Client is the real one.
type StateGetter interface {
	State(ctx context.Context, addr string) (peer.State, error)
}

// StatusGetter fetches one sentinel's open /status; peer.Client is the
// real one.
type StatusGetter interface {
	Status(ctx context.Context, addr string, v any) error
}

// publicFreshness is how old a sample in a peer's /status may be for its
// "Primary" to count (see galera.View.PrimaryRefusing).
const publicFreshness = 10 * time.Second

// publicStatus is what is read of a peer's /status when its peer API
// refused our token.
type publicStatus struct {
	Stopping bool `json:"stopping"`
	Sample   *struct {
		NodeName      string `json:"node_name"`
		ClusterStatus string `json:"cluster_status"`
	} `json:"sample"`
	SampleAgeSeconds float64 `json:"sample_age_seconds"`
}

// Loop re-runs the decision until it says to start mariadbd.
type Loop struct {
	Self     func() galera.Member // this node, as it is now
	Instance string               // this sentinel's peer.State.InstanceID
	Expected int
	Source   discovery.Source
	Peers    StateGetter
	// Public reads the /status of a peer that refuses this member's token
	// (a token rotation under way); nil: Peers, when it can.
	Public    StatusGetter
	GcommPort int
	Interval  time.Duration
	Logger    *slog.Logger
	// OnDecision is told every decision (for /status and the peer API).
	OnDecision func(galera.Decision)
	// OnView, when set, is told every view a decision was made from (for
	// metrics: what each peer said).
	OnView func(galera.View)

	force atomic.Bool
}

// Force records the operator's override: the next decision may bootstrap
// this node without every expected member.
func (l *Loop) Force() { l.force.Store(true) }

// Plan is what the loop decided, with the gcomm address to start with.
type Plan struct {
	galera.Decision
	ClusterAddress string
	// Hosts are the members' hosts as discovery named them, this one's
	// included.
	Hosts []string
}

// Run decides every Interval until the decision starts mariadbd or ctx
// ends. A reason is logged when it changes, and again every minute while
// it does not, so an operator reading the log always sees why the node
// waits.
func (l *Loop) Run(ctx context.Context) (Plan, error) {
	var last string
	var lastLogged time.Time
	for {
		plan, err := l.Once(ctx)
		if l.OnDecision != nil {
			if err != nil {
				l.OnDecision(galera.Decision{Action: galera.Wait, Class: galera.DecidedCannotDecide, Reason: "cannot decide: " + oneline.Error(err)})
			} else {
				l.OnDecision(plan.Decision)
			}
		}
		msg := plan.Reason
		if err != nil {
			msg = err.Error()
		}
		if msg != last || time.Since(lastLogged) > time.Minute {
			switch {
			case err != nil:
				l.Logger.Warn("cannot decide yet", "err", err)
			case plan.Action == galera.Refuse:
				l.Logger.Error("refusing to start", "reason", plan.Reason)
			default:
				l.Logger.Info("decision", "action", plan.Action.String(), "reason", plan.Reason)
			}
			last, lastLogged = msg, time.Now()
		}
		if err == nil && plan.Action.Starts() {
			return plan, nil
		}
		select {
		case <-ctx.Done():
			return Plan{}, ctx.Err()
		case <-time.After(l.Interval):
		}
	}
}

// Once makes one decision from a fresh look at the peers.
func (l *Loop) Once(ctx context.Context) (Plan, error) {
	v, hosts, err := l.look(ctx, l.Self())
	if err != nil {
		return Plan{}, err
	}
	if l.OnView != nil {
		l.OnView(v)
	}
	d := galera.Decide(v)
	return Plan{Decision: d, ClusterAddress: GcommAddress(hosts, l.GcommPort), Hosts: hosts}, nil
}

// Running makes one decision for a member whose mariadbd runs: self is
// that member as its peers see it (Running, and Primary or NonPrimary
// from a fresh sample). The decision is galera.Decide's, from the same
// kind of view as Once's; it is either Wait or StepDown. Neither
// OnDecision nor OnView is told: they are for the decisions before a
// start.
func (l *Loop) Running(ctx context.Context, self galera.Member) (galera.View, galera.Decision, error) {
	if !self.Running {
		return galera.View{}, galera.Decision{}, fmt.Errorf("recovery: Running called for %s, whose mariadbd does not run", self.Name)
	}
	v, _, err := l.look(ctx, self)
	if err != nil {
		return v, galera.Decision{}, err
	}
	return v, galera.Decide(v), nil
}

// look asks every peer and builds the view a decision is made from.
func (l *Loop) look(ctx context.Context, self galera.Member) (galera.View, []string, error) {
	addrs, err := l.Source.Peers(ctx)
	if err != nil {
		return galera.View{}, nil, fmt.Errorf("discover peers (%s): %w", l.Source, err)
	}
	answers := peer.FanOut(ctx, addrs, l.Peers.State)

	v := galera.View{Self: self, Expected: l.Expected, Force: l.force.Load()}
	byName := map[string]string{}
	var hosts []string
	for _, a := range answers {
		if host, _, err := net.SplitHostPort(a.Addr); err == nil {
			hosts = append(hosts, host)
		}
		if a.Err != nil {
			msg := oneline.Error(a.Err)
			if peer.IsTokenRefused(a.Err) {
				msg += " (it refuses every token of this member: give the members the same tokens, see token rotation in the README)"
				if name, ok := l.primaryRefusing(ctx, a.Addr); ok {
					v.PrimaryRefusing = append(v.PrimaryRefusing, name)
				}
			}
			v.Unreachable = append(v.Unreachable, galera.Unreachable{Addr: a.Addr, Err: msg})
			continue
		}
		name := a.Value.NodeName
		if name == self.Name {
			if a.Value.InstanceID != l.Instance {
				return galera.View{}, nil, fmt.Errorf("the sentinel at %s claims this node's name %s: every member needs a name of its own (--node-name)", a.Addr, name)
			}
			continue // ourselves, listed by DNS or the static list
		}
		if prev, dup := byName[name]; dup {
			// Two sentinels claim one name: a misconfiguration or a lie.
			// Deciding with either could count one member twice.
			return galera.View{}, nil, fmt.Errorf("peers %s and %s both claim to be %s", prev, a.Addr, name)
		}
		byName[name] = a.Addr
		v.Peers = append(v.Peers, a.Value.Member())
	}
	return v, hosts, nil
}

// primaryRefusing reads the open /status of the peer at addr, which
// refused our token, and reports whether a fresh sample there says it is
// in a Primary component, with its name (its address when it has none).
func (l *Loop) primaryRefusing(ctx context.Context, addr string) (string, bool) {
	pub := l.Public
	if pub == nil {
		pub, _ = l.Peers.(StatusGetter)
	}
	if pub == nil {
		return "", false
	}
	var st publicStatus
	if err := pub.Status(ctx, addr, &st); err != nil || st.Sample == nil || st.Stopping {
		return "", false
	}
	if st.Sample.ClusterStatus != "Primary" || st.SampleAgeSeconds < 0 || st.SampleAgeSeconds > publicFreshness.Seconds() {
		return "", false
	}
	name := st.Sample.NodeName
	if name == "" {
		name = addr
	}
	return name + " (" + addr + ")", true
}

// GcommAddress builds wsrep_cluster_address from the peers' hosts.
func GcommAddress(hosts []string, port int) string {
	seen := map[string]bool{}
	var parts []string
	for _, h := range hosts {
		a := net.JoinHostPort(h, strconv.Itoa(port))
		if !seen[a] {
			seen[a] = true
			parts = append(parts, a)
		}
	}
	return "gcomm://" + strings.Join(parts, ",")
}
