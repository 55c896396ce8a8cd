package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/metrics"
	"github.com/galera-sentinel/galera-sentinel/internal/mysqlstat"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
	"github.com/galera-sentinel/galera-sentinel/internal/supervisor"
)

func runRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseRun(args, getenv, stderr)
	if err != nil {
		return err
	}
	return runMode(ctx, cfg, newLogger(cfg.LogFormat, cfg.LogLevel, stderr), nil)
}

// runMode wires `run` for the chosen mode: the endpoints, the peers,
// the mode's member and what runs beside it. The server and the poller
// live until runMode returns, after mariadbd has stopped: probes answer
// truthfully the whole time. When ready is non-nil it receives the listen
// address.
func runMode(ctx context.Context, cfg *RunConfig, logger *slog.Logger, ready chan<- string) error {
	mode := cfg.mode()
	if mode == nil {
		return fmt.Errorf("%w: no mode %q", errUsage, cfg.Mode)
	}
	kc, err := openKube(cfg)
	if err != nil {
		return err
	}
	if kc != nil {
		defer kc.Close()
	}
	rb, err := openRun(ctx, cfg, mode.Check)
	if err != nil {
		return err
	}
	defer rb.client.Close()
	tokens := cfg.tokens(logger.With("component", "tokens"))
	b := openBase(nodeConfig{Name: cfg.NodeName, Command: "run", EventsFile: cfg.eventsFile(), Tokens: tokens}, logger)
	peers := peer.NewTokensClient(tokens, rb.clientTLS, cfg.PeerTimeout)
	defer peers.Close()
	reaper := supervisor.NewReaper(os.Getpid() == 1, logger)
	defer reaper.Close()
	exe, _ := os.Executable()
	k := &sentinel.RunKit{Kit: cfg.kit(b, rb.client), NodeName: cfg.NodeName, DataDir: cfg.DataDir, Listen: cfg.Listen,
		Effective: rb.eff, Mariadbd: cfg.mariadbd(exe, rb.eff), Member: cfg.member(),
		Source: rb.source, Peers: peers, Reaper: reaper, Token: cfg.Token, DecideInterval: cfg.DecideInterval, PeerTimeout: cfg.PeerTimeout}
	var reach *kube.Reach
	if kc != nil {
		reach = &kube.Reach{Ping: kc.Ping, Logger: logger.With("component", "kube", "task", "reach")}
		k.KubeAPI = reach.State
	}
	closer := cfg.drainSessions(rb.client)
	drainMetrics := metrics.NewDrain(b.Metrics)
	k.Member.Sessions, k.Member.Drained, k.Member.Events = closer, drainMetrics.Drained, b.Journal.Add
	w, err := mode.Run(ctx, k)
	if err != nil {
		rb.eps.close()
		stopped(b.Journal, err)
		return err
	}
	if w.Close != nil {
		defer w.Close()
	}
	logger.Info("run mode", append([]any{"mode", cfg.Mode, "node", cfg.NodeName, "listen", rb.eps.http.Addr().String(), "tls", rb.serverTLS != nil,
		"agent_check", rb.eps.agentAddr(), "notify_socket", cfg.NotifySocket, "peers", rb.source.String(), "datadir", cfg.DataDir,
		"mysql_addr", cfg.MySQLAddr, "events_file", b.Journal.Path(), "pid", os.Getpid()}, w.Attrs...)...)
	if ready != nil {
		ready <- rb.eps.http.Addr().String()
	}
	serveEndpoints := func(ctx context.Context) {
		if err := rb.eps.serve(ctx, w.Mux, w.Poked, logger); err != nil {
			logger.Error("serving endpoints", "err", err)
		}
	}
	tasks := append(w.Tasks, serveEndpoints)
	if cfg.MaintenanceCloseIdle {
		md := &member.MaintenanceDrain{InMaintenance: w.InMaintenance, Sessions: closer, Delay: cfg.DrainDelay, Every: cfg.PollInterval,
			Closed: drainMetrics.MaintenanceClosed, Events: b.Journal.Add, Logger: logger.With("component", "maintenance")}
		tasks = append(tasks, md.Run)
	}
	stop := background(logger, tasks...)
	defer stop()
	if kc != nil {
		// Deferred after stop, so it runs before: "false" on the pod
		// before the endpoints go.
		defer kubeMarks(ctx, cfg, kc, reach, w, b, logger)()
	}
	err = w.Run(ctx)
	stopped(b.Journal, err)
	return err
}

// openKube is the API client for the pod marks (nil without them).
func openKube(cfg *RunConfig) (*kube.Client, error) {
	if !cfg.kubeMarks() {
		return nil, nil
	}
	c, err := kube.InCluster(cfg.kubeConfig())
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was started", kubeFlags(cfg), err)
	}
	return c, nil
}

func kubeFlags(cfg *RunConfig) string {
	var f []string
	if cfg.KubeWriterLabel {
		f = append(f, "--kube-writer-label")
	}
	if cfg.KubePrimaryCondition {
		f = append(f, "--kube-primary-condition")
	}
	return strings.Join(f, " ")
}

// kubeMarks keeps this pod's marks (the writer label with /writerz, the
// Primary condition with the node's component) until ctx ends (SIGTERM:
// "false" at once, as the drain begins), and, in a mode that tells which
// members left its Primary component, takes their pods out of the
// Services. The returned stop ends it, "false" set, when the member has
// stopped for another reason.
func kubeMarks(ctx context.Context, cfg *RunConfig, kc *kube.Client, reach *kube.Reach, w *sentinel.Wired, b *sentinel.Base, logger *slog.Logger) (stop func()) {
	log := logger.With("component", "kube", "pod", cfg.KubePodName, "namespace", kc.Namespace())
	every := min(cfg.PollInterval, 100*time.Millisecond)
	condition := func(ctx context.Context, pod, status, reason, message string) error {
		return kc.SetPodCondition(ctx, pod, kube.Condition{Type: kube.PrimaryConditionType, Status: status, Reason: reason, Message: message})
	}
	// A lost member's pod: the gate's condition and Ready at once (see
	// kube.Departures).
	leftCondition := func(ctx context.Context, pod string) error {
		msg := "left the Primary component of " + cfg.KubePodName + " (galera-sentinel)"
		return kc.SetPodCondition(ctx, pod, kube.Condition{Type: kube.PrimaryConditionType, Status: "False", Reason: kube.ReasonLeft, Message: msg},
			kube.Condition{Type: kube.ReadyConditionType, Status: "False", Reason: kube.ReasonLeft, Message: msg})
	}
	tasks := []func(context.Context){reach.Run, func(ctx context.Context) { checkGrace(ctx, cfg, kc, b, log) }}
	if cfg.KubeWriterLabel {
		l := &kube.Mark{Name: kube.WriterLabelKey, On: w.IsWriter, Every: every, Logger: log,
			Set: func(ctx context.Context, v string) error {
				return kc.SetPodLabel(ctx, cfg.KubePodName, kube.WriterLabelKey, v)
			}}
		tasks = append(tasks, l.Run)
		log.Info("keeping the writer label", "label", kube.WriterLabelKey)
	}
	if cfg.KubePrimaryCondition && w.InPrimary != nil {
		c := &kube.Mark{Name: kube.PrimaryConditionType, On: w.InPrimary, Every: every, Logger: log,
			Set: func(ctx context.Context, v string) error {
				if v == kube.LabelTrue {
					return condition(ctx, cfg.KubePodName, "True", kube.ReasonInPrimary, "in a Primary component (galera-sentinel on "+cfg.KubePodName+")")
				}
				// Ready False with it, at once: the kubelet would only
				// compute it from the gate at its next sync, and every
				// Service reads Ready. The kubelet keeps it False while
				// the gate is; True is the kubelet's to give.
				msg := "not in a Primary component, or stopping (galera-sentinel on " + cfg.KubePodName + ")"
				return kc.SetPodCondition(ctx, cfg.KubePodName, kube.Condition{Type: kube.PrimaryConditionType, Status: "False", Reason: kube.ReasonNotPrimary, Message: msg},
					kube.Condition{Type: kube.ReadyConditionType, Status: "False", Reason: kube.ReasonNotPrimary, Message: msg})
			}}
		tasks = append(tasks, c.Run)
		log.Info("keeping the Primary condition", "condition", kube.PrimaryConditionType)
	}
	departures := w.Departed != nil && w.Gone != nil
	if departures && cfg.NodeName != cfg.KubePodName {
		// The lost member is known by its node name; its pod is patched
		// by that name.
		log.Warn("the pods of members that leave the Primary component are not taken out of the Services nor rebuilt: this member's node name is not its pod name (the members' node names must be their pod names)",
			"node", cfg.NodeName)
		departures = false
	}
	// Both the Services and the rebuild follow the departures.
	var outs []chan []string
	follow := func() <-chan []string {
		c := make(chan []string, 8)
		outs = append(outs, c)
		return c
	}
	if departures && (cfg.KubePrimaryCondition || cfg.KubeWriterLabel) {
		m := metrics.NewDepartures(b.Metrics)
		d := &kube.Departures{Gone: w.Gone, Logger: log,
			Out: func(ctx context.Context, pod string) error {
				if cfg.KubePrimaryCondition {
					if err := leftCondition(ctx, pod); err != nil {
						return err
					}
				}
				if cfg.KubeWriterLabel {
					return kc.SetPodLabel(ctx, pod, kube.WriterLabelKey, kube.LabelFalse)
				}
				return nil
			},
			Done: func(pod string, err error) {
				m.Done(err)
				if err == nil {
					b.Journal.Add(journal.Event{Kind: journal.KindMember, Reason: pod + " left the Primary component: its pod taken out of the Services (" + kubeFlags(cfg) + ")"})
				}
			}}
		in := follow()
		tasks = append(tasks, func(ctx context.Context) { d.Run(ctx, in) })
	}
	if departures && cfg.KubeRebuildLost {
		m := metrics.NewRebuild(b.Metrics, kube.StepPodDeleted, kube.StepClaimDeleted, kube.StepPendingPodDeleted)
		r := &kube.Rebuild{API: kc, Gone: w.Gone, Logger: log.With("task", "rebuild-lost"),
			Did: func(s kube.Step) {
				m.Step(s.Action)
				b.Journal.Add(journal.Event{Kind: journal.KindMember, Reason: s.Pod + " is lost and its node declared gone: " + s.Object + " deleted (--kube-rebuild-lost): " + s.Why})
			},
			Failed: func(pod string, err error) { m.Failed() }}
		in := follow()
		tasks = append(tasks, func(ctx context.Context) { r.Run(ctx, in) })
		log.Info("rebuilding lost members whose node is declared gone", "taint", kube.OutOfServiceTaint)
	} else if cfg.KubeRebuildLost {
		log.Warn("--kube-rebuild-lost does nothing here: this member cannot tell which members left its Primary component")
	}
	if cfg.KubeWriterLabel && w.APICut != nil && cfg.NodeName == cfg.KubePodName {
		// A member whose node cannot reach the API server cannot take its
		// own writer label off when the writer moves away from it.
		c := &kube.Unlabel{Cut: w.APICut, Logger: log.With("task", "api-cut"),
			Set: func(ctx context.Context, pod string) error {
				return kc.SetPodLabel(ctx, pod, kube.WriterLabelKey, kube.LabelFalse)
			},
			Done: func(pod string) {
				b.Journal.Add(journal.Event{Kind: journal.KindMember, Reason: pod + " cannot reach the Kubernetes API server: the writer moved away from it, its writer label set false by " + cfg.KubePodName})
			}}
		tasks = append(tasks, c.Run)
	}
	if len(outs) > 0 {
		tasks = append(tasks, func(ctx context.Context) { fanOut(ctx, w.Departed, outs) })
	}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, f := range tasks {
		wg.Add(1)
		go func() { defer wg.Done(); f(lctx) }()
	}
	return func() { cancel(); wg.Wait() }
}

// checkGrace reads this pod's grace period once (trying again for a few
// minutes while the API server does not answer) and says, in the log and
// the journal, when it is shorter than the member's stop may take: the
// kubelet would kill mariadbd in its clean shutdown.
func checkGrace(ctx context.Context, cfg *RunConfig, kc *kube.Client, b *sentinel.Base, log *slog.Logger) {
	stop := kube.Stop{DrainDelay: cfg.DrainDelay, DrainTimeout: cfg.DrainTimeout, ShutdownTimeout: cfg.ShutdownTimeout}
	pause := 5 * time.Second
	for try := 1; ; try++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		p, err := kc.Pod(cctx, cfg.KubePodName)
		cancel()
		if err == nil {
			if why, short := kube.ShortGrace(p.Grace, stop); short {
				log.Warn(why)
				b.Journal.Add(journal.Event{Kind: journal.KindStart, Reason: why})
			}
			return
		}
		if try == 6 {
			log.Warn("cannot read this pod to check its terminationGracePeriodSeconds against the stop", "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
			pause *= 2
		}
	}
}

// runBase is what both run modes open before their member: mariadbd's
// effective configuration, the endpoints, the peers' source and the one
// connection to mariadbd.
type runBase struct {
	eff                  mariadbd.Effective
	eps                  *endpoints
	source               discovery.Source
	client               *mysqlstat.Client
	serverTLS, clientTLS *tls.Config
}

// openRun reads mariadbd's configuration (check, when set, may refuse
// it), makes it the truth, and opens the endpoints and the connection.
// Nothing is started when it fails; on success the caller closes client.
func openRun(ctx context.Context, cfg *RunConfig, check func(mariadbd.Effective) error) (*runBase, error) {
	eff, err := mariadbd.ReadEffective(ctx, cfg.Mariadbd)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was started", err)
	}
	if check != nil {
		if err := check(eff); err != nil {
			return nil, err
		}
	}
	if err := cfg.followConfig(eff); err != nil {
		return nil, fmt.Errorf("%w; nothing was started", err)
	}
	serverTLS, clientTLS, err := cfg.tls()
	if err != nil {
		return nil, err
	}
	eps, err := openEndpoints(&cfg.ServeConfig, serverTLS)
	if err != nil {
		return nil, err
	}
	source, err := cfg.Discovery.Source(eps.http.Addr().(*net.TCPAddr).Port)
	if err != nil {
		eps.close()
		return nil, err
	}
	client, err := mysqlstat.New(cfg.mysql())
	if err != nil {
		eps.close()
		return nil, err
	}
	return &runBase{eff: eff, eps: eps, source: source, client: client, serverTLS: serverTLS, clientTLS: clientTLS}, nil
}

// background runs each function until the returned stop is called, which
// waits for all of them.
func background(logger *slog.Logger, fs ...func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	return func() { cancel(); wg.Wait(); logger.Info("stopped") }
}

// fanOut tells every out what in tells, dropping for an out that is full
// (its reader checks the member again before acting, as for in).
func fanOut(ctx context.Context, in <-chan []string, outs []chan []string) {
	for {
		select {
		case <-ctx.Done():
			return
		case v := <-in:
			for _, o := range outs {
				select {
				case o <- v:
				default:
				}
			}
		}
	}
}
