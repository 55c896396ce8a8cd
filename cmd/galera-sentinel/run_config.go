package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/discovery"
	"github.com/galera-sentinel/galera-sentinel/internal/httpserver"
	"github.com/galera-sentinel/galera-sentinel/internal/journal"
	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/mariadbd"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/peer"
	"github.com/galera-sentinel/galera-sentinel/internal/sessions"
)

// RunConfig is everything `run` needs: serve's flags and its own.
type RunConfig struct {
	ServeConfig

	NodeName    string
	DataDir     string
	Discovery   discovery.Config
	TLSCertFile string
	TLSKeyFile  string
	// peerTLS is how the peers are trusted: --tls-ca-file,
	// --tls-server-name.
	peerTLS
	DecideInterval  time.Duration
	PeerTimeout     time.Duration
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	DrainTimeout    time.Duration
	DrainCloseIdle  time.Duration
	// MaintenanceCloseIdle: in maintenance, close the client sessions
	// between transactions too (past --drain-delay, never a cut).
	MaintenanceCloseIdle bool
	InitCommand          string
	InitDBDir            string

	// The writer label on this member's pod (--kube-writer-label), its
	// Primary condition (--kube-primary-condition).
	KubeWriterLabel      bool
	KubePrimaryCondition bool
	// KubeRebuildLost: rebuild a lost member whose node is declared gone
	// (--kube-rebuild-lost, kube.Rebuild).
	KubeRebuildLost       bool
	KubePodName           string
	KubeServiceAccountDir string
	// KubeHost and KubePort are the API server's, from
	// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
	KubeHost, KubePort string

	// Mariadbd is the command after "--": mariadbd and its arguments.
	Mariadbd []string

	// machine answers the host name, the user and the environment of
	// mariadb-install-db; zero: thisMachine.
	machine machine
	// passDataDir: DataDir came from --datadir alone and mariadbd must be
	// told it (set by followConfig).
	passDataDir bool
}

// sys is what the config asks of the machine.
func (c *RunConfig) sys() machine {
	if c.machine.hostname == nil {
		return thisMachine
	}
	return c.machine
}

// followConfig makes mariadbd's own configuration the truth: the data
// directory (a contradicting --datadir is refused) and, unless
// --mysql-addr was given, the socket or port to watch.
func (c *RunConfig) followConfig(e mariadbd.Effective) error {
	dir, pass, err := e.ResolveDataDir(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir, c.passDataDir = dir, pass
	if _, set := c.explicit["mysql-addr"]; !set {
		if e.Socket != "" {
			c.MySQLAddr = e.Socket
		} else if e.Port > 0 {
			c.MySQLAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(e.Port))
		}
	}
	return nil
}

// mariadbd is how the member runs mariadbd, after followConfig.
func (c *RunConfig) mariadbd(exe string, e mariadbd.Effective) mariadbd.Config {
	m := mariadbd.Config{Command: c.Mariadbd, DataDir: c.DataDir, PassDataDir: c.passDataDir, ConfigNamesCluster: e.HasClusterAddress(),
		BindAddress: e.BindAddress, NodeAddress: e.NodeAddress,
		InitCommand: c.InitCommand, ShutdownTimeout: c.ShutdownTimeout, ErrorLog: mariadbd.ErrorLogPath(e.LogError, c.DataDir)}
	if c.InitCommand == "" {
		m.InitDB = &mariadbd.InitDB{Dir: c.InitDBDir, Env: c.sys().lookupEnv}
	}
	if c.NotifySocket != "" {
		m.NotifyCommand = mariadbd.NotifyCommand(exe, c.NotifySocket)
	}
	if u, err := c.sys().user(); err == nil {
		m.OSUser = u.Username
		if u.Uid == "0" && e.User != "" && e.User != "root" {
			m.RunAs = e.User
		}
	}
	return m
}

// eventsFile is where run mode keeps its journal: --events-file, "off"
// for none, by default in the data directory (the member's volume).
func (c *RunConfig) eventsFile() string {
	switch c.EventsFile {
	case "off":
		return ""
	case "":
		return filepath.Join(c.DataDir, journal.FileName)
	}
	return c.EventsFile
}

// minDrainCloseIdle is the least --drain-close-idle: above HikariCP's
// 500 ms window in which it reuses a connection unchecked.
const minDrainCloseIdle = 600 * time.Millisecond

func (c *RunConfig) member() member.Config {
	return member.Config{NodeName: c.NodeName, DataDir: c.DataDir, DrainDelay: c.DrainDelay, DrainTimeout: c.DrainTimeout,
		ShutdownTimeout: c.ShutdownTimeout, PollInterval: c.PollInterval, RetryMin: time.Second, RetryMax: 30 * time.Second}
}

// drainSessions is the drain's closer of client sessions over server (the
// probe's connection): --drain-close-idle, 0 never closing one early.
func (c *RunConfig) drainSessions(server sessions.Server) *sessions.Closer {
	idle := c.DrainCloseIdle
	if idle == 0 {
		idle = -1
	}
	return &sessions.Closer{Server: server, MinIdle: idle}
}

// tls reads the certificates: the server's, and the CA for calls to peers.
func (c *RunConfig) tls() (server, client *tls.Config, err error) {
	if c.TLSCertFile != "" {
		if server, err = httpserver.ServerTLS(c.TLSCertFile, c.TLSKeyFile); err != nil {
			return nil, nil, err
		}
	}
	if client, err = c.clientTLS(); err != nil {
		return nil, nil, err
	}
	return server, client, nil
}

func (c *RunConfig) flags(fs *flag.FlagSet) {
	c.ServeConfig.commonFlags(fs)
	fs.StringVar(&c.NodeName, "node-name", c.sys().host(), "this member's name, unique in the cluster (a StatefulSet pod name: its ordinal breaks ties)")
	fs.StringVar(&c.DataDir, "datadir", "", "mariadbd's data directory (default: the datadir of mariadbd's own configuration, which a different value contradicts)")
	discoveryFlags(fs, &c.Discovery, "the members' sentinel addresses, host:port,...; the hosts are also their Galera addresses",
		"DNS name whose A/AAAA records are the members (a headless Service with publishNotReadyAddresses); resolved on every attempt",
		"sentinel port of the members found by --peers-dns (default: the port of --listen)", 0)
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "serve HTTPS with this certificate (PEM); reloaded when the file changes")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "private key for --tls-cert-file")
	c.peerTLS.flags(fs, "call peers over HTTPS, trusting this CA (PEM)",
		"with --tls-ca-file: the DNS name the peers' certificate must hold (default: the address called); peers found by --peers-dns are IP addresses, so one certificate for the cluster names e.g. galera-peers.<namespace>.svc")
	fs.DurationVar(&c.DecideInterval, "decide-interval", 2*time.Second, "how often to look at the peers again while waiting")
	fs.DurationVar(&c.PeerTimeout, "peer-timeout", 2*time.Second, "bound on one call to a peer")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 5*time.Minute, "how long mariadbd may take to shut down after SIGTERM before it is killed; keep it below the orchestrator's own limit (terminationGracePeriodSeconds, TimeoutStopSec)")
	fs.DurationVar(&c.DrainDelay, "drain-delay", 5*time.Second, "on SIGTERM, how long /readyz answers 503 before the client connections are waited for: at least the load balancer's check interval times its fall count")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, after --drain-delay, how long to wait for client connections to close; what is still open then is cut before mariadbd is stopped")
	fs.DurationVar(&c.DrainCloseIdle, "drain-close-idle", sessions.DefaultMinIdle, "during the drain, close the client sessions (over TCP) that have sat this long between transactions, which pools reconnect elsewhere unseen; at least 600ms (HikariCP checks a connection idle for more than 500ms before reuse); 0 never closes them early")
	fs.BoolVar(&c.MaintenanceCloseIdle, "maintenance-close-idle", false, "in maintenance (the API or --maintenance-file), once --drain-delay has passed, close the client sessions between transactions as the drain before a stop does (--drain-close-idle), so pooled connections move to the other members; never cuts a session; off by default: maintenance leaves the clients alone")
	fs.BoolVar(&c.KubeWriterLabel, "kube-writer-label", false, "Kubernetes: keep the label "+kube.WriterLabelKey+" on this member's pod \"true\" while /writerz answers 200 and \"false\" otherwise, so a Service selecting it routes to the writer only (needs a Role with pods get and patch for the pod's service account)")
	fs.BoolVar(&c.KubePrimaryCondition, "kube-primary-condition", false, "Kubernetes (Galera): keep the condition "+kube.PrimaryConditionType+" of this member's pod \"True\" while the node is in a Primary component and \"False\" otherwise; with a readiness gate of that type the pod is Ready only then (needs pods/status patch for the pod's service account)")
	fs.BoolVar(&c.KubeRebuildLost, "kube-rebuild-lost", false, "Kubernetes (Galera): when a member left this member's Primary component and its node is declared gone (the taint "+kube.OutOfServiceTaint+", or the Node deleted), force delete its pod and, if its claim is bound to a volume pinned to that node, delete the claim, so that the StatefulSet rebuilds the member on another node by state transfer; never on a node that is only NotReady (needs the rights of deploy/kubernetes/components/rebuild-lost)")
	fs.StringVar(&c.KubePodName, "kube-pod-name", "", "Kubernetes: the name of this member's pod, for --kube-writer-label and --kube-primary-condition (default: $POD_NAME, else the host name)")
	fs.StringVar(&c.KubeServiceAccountDir, "kube-service-account-dir", kube.ServiceAccountDir, "Kubernetes: the directory of the service account's token (re-read on every call), ca.crt and namespace, for --kube-writer-label and --kube-primary-condition")
	fs.StringVar(&c.InitCommand, "init-command", "", "shell command that initialises an empty data directory before a brand-new cluster is bootstrapped, with $DATADIR set (default: mariadb-install-db)")
	fs.StringVar(&c.InitDBDir, "initdb-dir", "/docker-entrypoint-initdb.d", "after the default initialisation, the *.sql, *.sql.gz, *.sql.xz, *.sql.zst and *.sh files applied in lexical order, as the official mariadb image does (missing: none)")
	c.modes = declareModes(fs, true, &c.Mode)
}

// Validate returns every problem at once.
func (c *RunConfig) Validate() error {
	errs := []error{c.ServeConfig.Validate()}
	if err := peer.ValidName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("--node-name: %w", err))
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("--datadir=%q: want an absolute path", c.DataDir))
	}
	if c.Token == "" {
		errs = append(errs, fmt.Errorf("the peer API needs a token: --token-file or %s", tokenEnv))
	}
	errs = append(errs, c.Discovery.Validate())
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	errs = append(errs, c.peerTLS.validate())
	errs = append(errs, positive("decide-interval", c.DecideInterval), positive("peer-timeout", c.PeerTimeout),
		positive("shutdown-timeout", c.ShutdownTimeout),
		notNegative("drain-delay", c.DrainDelay), notNegative("drain-timeout", c.DrainTimeout))
	if c.DrainCloseIdle != 0 && c.DrainCloseIdle < minDrainCloseIdle {
		errs = append(errs, fmt.Errorf("--drain-close-idle=%s: want 0 (never close early) or at least %s: HikariCP reuses a connection idle for less than 500ms without checking it, so a session closed sooner fails its next statement", c.DrainCloseIdle, minDrainCloseIdle))
	}
	if c.MaintenanceCloseIdle && c.DrainCloseIdle == 0 {
		errs = append(errs, errors.New("--maintenance-close-idle closes the sessions idle for --drain-close-idle, which is 0 (never): set one or the other"))
	}
	errs = append(errs, c.validateKube()...)
	if len(c.Mariadbd) == 0 {
		errs = append(errs, errors.New("no mariadbd command: galera-sentinel run [flags] -- mariadbd [args]"))
	}
	errs = append(errs, c.checkMariadbdArgs()...)
	return errors.Join(errs...)
}

// kubeFromEnv fills what a pod's environment says: the API server, and
// the pod name when --kube-pod-name is not set.
func (c *RunConfig) kubeFromEnv(getenv func(string) string) {
	c.KubeHost, c.KubePort = getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if c.KubePodName == "" {
		c.KubePodName = getenv("POD_NAME")
	}
	if c.KubePodName == "" {
		c.KubePodName = c.sys().host()
	}
}

// kubeConfig is the API client's configuration.
func (c *RunConfig) kubeConfig() kube.Config {
	return kube.Config{Host: c.KubeHost, Port: c.KubePort, Dir: c.KubeServiceAccountDir}
}

// kubeMarks: the sentinel keeps a mark on its pod, or looks after its
// lost peers' pods.
func (c *RunConfig) kubeMarks() bool {
	return c.KubeWriterLabel || c.KubePrimaryCondition || c.KubeRebuildLost
}

// validateKube checks the pod marks' flags.
func (c *RunConfig) validateKube() []error {
	if !c.kubeMarks() {
		return nil
	}
	var errs []error
	if !podName(c.KubePodName) {
		errs = append(errs, fmt.Errorf("--kube-pod-name=%q: want a pod name (lower-case letters, digits, '-' and '.'; set it, or $POD_NAME from the downward API)", c.KubePodName))
	}
	if c.KubeServiceAccountDir == "" {
		errs = append(errs, errors.New("--kube-service-account-dir is empty"))
	}
	return errs
}

// podName: a DNS subdomain, as Kubernetes names pods.
func podName(s string) bool {
	if s == "" || len(s) > 253 || s[0] == '-' || s[0] == '.' || s[len(s)-1] == '-' || s[len(s)-1] == '.' {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// checkMariadbdArgs refuses what the sentinel must set itself.
func (c *RunConfig) checkMariadbdArgs() []error {
	var errs []error
	for i, a := range c.Mariadbd {
		v, ok := strings.CutPrefix(a, "--datadir=")
		if a == "--datadir" && i+1 < len(c.Mariadbd) {
			v, ok = c.Mariadbd[i+1], true
		}
		if ok && c.DataDir != "" && filepath.Clean(v) != filepath.Clean(c.DataDir) {
			errs = append(errs, fmt.Errorf("mariadbd's --datadir=%s differs from --datadir=%s: the position would be read from another directory than the one mariadbd uses", v, c.DataDir))
		}
		if a == "--wsrep-new-cluster" || a == "--wsrep_new_cluster" {
			errs = append(errs, fmt.Errorf("mariadbd argument %s: the sentinel decides when to bootstrap", a))
		}
		if c.NotifySocket != "" && (strings.HasPrefix(a, "--wsrep-notify-cmd") || strings.HasPrefix(a, "--wsrep_notify_cmd")) {
			errs = append(errs, fmt.Errorf("mariadbd argument %s: with --notify-socket the sentinel sets wsrep_notify_cmd itself", a))
		}
	}
	return errs
}

func parseRun(args []string, getenv func(string) string, stderr io.Writer) (*RunConfig, error) {
	return parseRunOn(thisMachine, args, getenv, stderr)
}

// parseRunOn is parseRun on a machine that answers as m does.
func parseRunOn(m machine, args []string, getenv func(string) string, stderr io.Writer) (*RunConfig, error) {
	fs := newFlagSet("run", "run [flags] -- mariadbd [args]", "Decide whether this member bootstraps, joins or waits; start and supervise mariadbd;\nserve the probe endpoints and the peer API.", stderr)
	cfg := &RunConfig{machine: m}
	cfg.flags(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	cfg.Mariadbd = fs.Args()
	cfg.explicit, cfg.getenv = explicitFlags(fs, getenv), getenv
	if len(args) > 0 && !slices.Contains(args, "--") && len(cfg.Mariadbd) > 0 {
		return nil, fmt.Errorf("%w: put -- before the mariadbd command: run [flags] -- %s", errUsage, strings.Join(cfg.Mariadbd, " "))
	}
	cfg.kubeFromEnv(getenv)
	if err := cfg.readSecrets(getenv); err != nil {
		return nil, err
	}
	if err := usageError(cfg.Validate()); err != nil {
		return nil, err
	}
	return cfg, nil
}
