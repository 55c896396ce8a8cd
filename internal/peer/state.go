// Package peer is the sentinel-to-sentinel API of run mode: each sentinel
// publishes what it knows of its own node (GET /api/v1/state) so that every
// member can make the same bootstrap decision, and accepts the operator's
// bootstrap override (POST /api/v1/bootstrap). Every call carries a shared
// token; every answer is validated before it is believed. It also holds the
// one client for other sentinels and the fan-out over their addresses.
//
// It must not decide anything: the bootstrap decision is galera.Decide's,
// run by package recovery; what to do with an override is Galera run
// mode's (package galeramember).
package peer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/upgrade"
)

// StateVersion is the version of the State document.
const StateVersion = 1

// maxStateBytes bounds what we read from a peer.
const maxStateBytes = 64 << 10

// Phases of a sentinel in run mode.
const (
	PhasePosition = "reading-position" // grastate.dat, mariadbd --wsrep-recover
	PhaseWaiting  = "waiting"          // deciding; mariadbd not started
	PhaseRunning  = "running"          // mariadbd started
	PhaseStopping = "stopping"
)

// State is what a sentinel says about its node.
type State struct {
	Version  int    `json:"version"`
	NodeName string `json:"node_name"`
	// InstanceID is random per sentinel process: it tells a sentinel
	// its own answer apart from another's that claims the same name.
	InstanceID string `json:"instance_id"`
	Phase      string `json:"phase"`
	// The node's position as read before mariadbd started; it does not
	// change while mariadbd runs.
	PositionKnown bool `json:"position_known"`
	DataDirEmpty  bool `json:"datadir_empty"`
	// DataDirFresh: only what an installation creates; NeedsSST: an
	// interrupted state transfer (see galera.Member).
	DataDirFresh    bool   `json:"datadir_fresh,omitempty"`
	NeedsSST        bool   `json:"needs_sst,omitempty"`
	UUID            string `json:"uuid"`
	Seqno           int64  `json:"seqno"`
	SafeToBootstrap bool   `json:"safe_to_bootstrap"`
	SavedView       bool   `json:"saved_view"`
	// LastView is the last Primary component the member was part of, as
	// its sentinel saved it (absent: none saved).
	LastView *galera.LastView `json:"last_view,omitempty"`
	// MariaDBVersion is the version of the member's mariadbd binary;
	// DataVersion the newest version known to have written its data
	// directory when it was read (package upgrade). Absent from a
	// sentinel of a release before them, or when not known.
	MariaDBVersion string `json:"mariadb_version,omitempty"`
	DataVersion    string `json:"data_version,omitempty"`
	// GaleraProtocols are the protocols (gcs/repl/appl, "5/11/4") of the
	// Primary component the running member last joined, from its log;
	// ProviderVersion its Galera library's version. A member whose
	// library Galera refused compares them with its own before it tries
	// again (galera.Member.CannotSpeak). Absent when not known.
	GaleraProtocols string `json:"galera_protocols,omitempty"`
	ProviderVersion string `json:"provider_version,omitempty"`
	// SystemTables is the member's settled digest of its privilege
	// tables and upgrade marker (galera.SystemTablesDoc); absent while
	// unsettled or unknown.
	SystemTables string `json:"system_tables,omitempty"`
	// Live state of the running node, from the sentinel's last sample.
	Running bool `json:"running"`
	Primary bool `json:"primary"`
	// NonPrimary: a fresh sample says the running node is outside a
	// Primary component (Running and neither Primary nor NonPrimary:
	// nothing fresh is known of it).
	NonPrimary bool `json:"non_primary,omitempty"`
	// Joining: mariadbd was started to join, has not been Synced since,
	// and is not known to be Primary (see galera.Member).
	Joining     bool   `json:"joining,omitempty"`
	Synced      bool   `json:"synced"`
	ClusterSize int    `json:"cluster_size"`
	LocalState  string `json:"local_state,omitempty"`
	// Ready is the member's /readyz verdict; LocalIndex its
	// wsrep_local_index (-1 outside a Primary component). Together they
	// let every member agree on the one writer.
	Ready      bool `json:"ready"`
	LocalIndex int  `json:"local_index"`
	// KubeAPIUnreachable: on Kubernetes, this member's sentinel has not
	// reached the API server for a while (kube.Reach): its pod's writer
	// label cannot move and Kubernetes will mark its pod not Ready. The
	// writer then goes to a ready member that reaches it
	// (galeramember.LowestReady). Absent elsewhere.
	KubeAPIUnreachable bool `json:"kube_api_unreachable,omitempty"`
	// KubeAPIFailing: its last try to reach the API server failed. Only
	// a member whose last try succeeded counts as reaching it: in an
	// outage of the whole control plane, the members' tries fail a
	// moment apart, and none is passed over.
	KubeAPIFailing bool `json:"kube_api_failing,omitempty"`
	// Action is the last decision's action, by its stable name: what
	// clients switch on (force-bootstrap, metrics). Absent from a
	// sentinel of a release before it, which sends Decision alone.
	Action member.Action `json:"action,omitempty"`
	// DecisionReason and DecisionClass are the last decision's reason
	// and the class of the rule that made it (member.Class: the metric
	// label). Absent from a sentinel of a release before them.
	DecisionReason string       `json:"decision_reason,omitempty"`
	DecisionClass  member.Class `json:"decision_class,omitempty"`
	// Decision is the last decision the sentinel made, "action: reason",
	// for operators and for sentinels of a release before Action; never
	// branched on.
	Decision string `json:"decision,omitempty"`
}

// Decided is the last decision as a typed value. ok is false when the
// sentinel sent no Action (one of a release before it); the caller then
// has the prose alone, for people. A sentinel that sent Action but not
// the reason and class (the release between) gives them empty.
func (s State) Decided() (d member.Decision, ok bool) {
	if s.Action == "" {
		return member.Decision{}, false
	}
	return member.Decision{Action: s.Action, Reason: s.DecisionReason, Class: s.DecisionClass}, true
}

// Bounds of the decision's fields a peer sends (the whole document is
// bounded by maxStateBytes). A reason longer than maxReasonBytes is
// clipped when published; a class is a short constant.
const (
	maxReasonBytes = 16 << 10
	maxClassBytes  = 128
)

// Member converts a validated State to the decision's input.
func (s State) Member() galera.Member {
	return galera.Member{
		Name: s.NodeName, Empty: s.DataDirEmpty, Fresh: s.DataDirFresh, NeedsSST: s.NeedsSST, PositionKnown: s.PositionKnown,
		Position:        galera.Position{UUID: s.UUID, Seqno: s.Seqno},
		SafeToBootstrap: s.SafeToBootstrap, SavedView: s.SavedView, LastView: s.LastView,
		Running: s.Running, Primary: s.Primary, NonPrimary: s.NonPrimary, Joining: s.Joining,
		Stopping: s.Running && s.Phase == PhaseStopping,
		Version:  parseVersion(s.MariaDBVersion), DataVersion: parseVersion(s.DataVersion),
		Protocols: parseProtocols(s.GaleraProtocols), Provider: s.ProviderVersion,
	}
}

// parseProtocols reads the protocols a peer sent; what is not protocols
// counts as unknown (validate refuses it before).
func parseProtocols(s string) galera.Protocols {
	if s == "" {
		return galera.Protocols{}
	}
	p, _ := galera.ParseProtocols(s)
	return p
}

// parseVersion reads a version a peer sent; one that is not a version
// counts as unknown (validate refuses it before).
func parseVersion(s string) upgrade.Version {
	v, _ := upgrade.Parse(s)
	return v
}

// Self is what run mode knows of its own member, apart from the live
// sample: its position, phase and last decision.
type Self struct {
	Member     galera.Member
	InstanceID string
	Phase      string
	Decision   member.Decision
	// Joining: mariadbd was started to join and has not been Synced
	// since (published only while it runs and is not Primary).
	Joining bool
}

// NewState builds the State a sentinel publishes: the position it read,
// and the live state from its last sample when that sample is fresh
// (last is nil otherwise). ready is the sample's /readyz verdict. It is the
// reverse of State.Member.
func NewState(self Self, last *galera.Sample, ready bool) State {
	m := self.Member
	s := State{
		Version: StateVersion, NodeName: m.Name, InstanceID: self.InstanceID, Phase: self.Phase,
		PositionKnown: m.PositionKnown, DataDirEmpty: m.Empty, DataDirFresh: m.Fresh, NeedsSST: m.NeedsSST, SafeToBootstrap: m.SafeToBootstrap,
		SavedView: m.SavedView, LastView: m.LastView, Running: self.Phase == PhaseRunning || self.Phase == PhaseStopping,
		Action: self.Decision.Action, LocalIndex: -1,
	}
	if !m.Version.IsZero() {
		s.MariaDBVersion = m.Version.String()
	}
	if !m.DataVersion.IsZero() {
		s.DataVersion = m.DataVersion.String()
	}
	s.ProviderVersion = m.Provider
	if s.Running && !m.Protocols.IsZero() {
		s.GaleraProtocols = m.Protocols.String()
	}
	if d := self.Decision; d.Action != "" {
		s.Decision = d.String()
		s.DecisionReason, s.DecisionClass = d.Reason, d.Class
		if len(s.DecisionReason) > maxReasonBytes {
			s.DecisionReason = strings.ToValidUTF8(s.DecisionReason[:maxReasonBytes-3], "") + "..."
		}
	}
	if m.PositionKnown && !m.Empty && !m.NeedsSST {
		s.UUID, s.Seqno = m.Position.UUID, m.Position.Seqno
	}
	s.Joining = s.Running && self.Joining
	if l := last; s.Running && l != nil {
		s.Primary = l.Primary() && l.ClusterSize > 0
		s.NonPrimary = !s.Primary
		s.Joining = s.Joining && !s.Primary
		s.Synced = l.SyncedPrimary()
		s.ClusterSize = l.ClusterSize
		s.LocalState = l.LocalState.String()
		if s.Primary && l.LocalIndex >= 0 && l.LocalIndex < l.ClusterSize {
			s.LocalIndex = l.LocalIndex
			s.Ready = ready
		}
	}
	return s
}

// Validate checks a peer's State: a peer that lies in a way we can detect
// is treated as unreachable, never believed.
func (s State) Validate() error {
	var errs []error
	if s.Version != StateVersion {
		errs = append(errs, fmt.Errorf("version %d, want %d", s.Version, StateVersion))
	}
	if err := ValidName(s.NodeName); err != nil {
		errs = append(errs, err)
	}
	if s.InstanceID == "" || len(s.InstanceID) > 64 {
		errs = append(errs, fmt.Errorf("instance id %q: want 1 to 64 characters", clip(s.InstanceID)))
	}
	if len(s.Action) > 32 || strings.IndexFunc(string(s.Action), func(r rune) bool { return !unicode.IsLower(r) && r != '-' }) >= 0 {
		errs = append(errs, fmt.Errorf("action %q: want a short lowercase name", clip(string(s.Action))))
	}
	if len(s.DecisionReason) > maxReasonBytes {
		errs = append(errs, fmt.Errorf("decision reason of %d bytes: want at most %d", len(s.DecisionReason), maxReasonBytes))
	}
	if len(s.DecisionClass) > maxClassBytes || strings.IndexFunc(string(s.DecisionClass), func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		errs = append(errs, fmt.Errorf("decision class %q: want at most %d printable bytes", clip(string(s.DecisionClass)), maxClassBytes))
	}
	if s.Action == "" && (s.DecisionReason != "" || s.DecisionClass != "") {
		errs = append(errs, errors.New("sends a decision's reason or class without its action"))
	}
	switch s.Phase {
	case PhasePosition, PhaseWaiting, PhaseRunning, PhaseStopping:
	default:
		errs = append(errs, fmt.Errorf("unknown phase %q", clip(s.Phase)))
	}
	if s.PositionKnown && !s.DataDirEmpty && !s.NeedsSST {
		if !galera.ValidUUID(s.UUID) {
			errs = append(errs, fmt.Errorf("uuid %q is not a UUID", clip(s.UUID)))
		}
		if s.Seqno < -1 {
			errs = append(errs, fmt.Errorf("seqno %d < -1", s.Seqno))
		}
	}
	if s.LastView != nil {
		if err := s.LastView.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("last view: %w", err))
		}
	}
	if s.DataDirEmpty && (s.UUID != "" || s.Seqno != 0 || s.SavedView || s.SafeToBootstrap) {
		errs = append(errs, errors.New("says its data directory is empty but reports a position"))
	}
	if (s.DataDirEmpty && s.DataDirFresh) || (s.NeedsSST && (s.DataDirEmpty || s.DataDirFresh)) {
		errs = append(errs, errors.New("says its data directory is of two kinds at once"))
	}
	if (s.DataDirFresh || s.NeedsSST) && s.UUID != "" && s.UUID != galera.ZeroUUID {
		errs = append(errs, errors.New("says it has no usable data but reports a cluster position"))
	}
	if s.NonPrimary && (s.Primary || !s.Running) {
		errs = append(errs, errors.New("says it is outside a Primary component but Primary or not running"))
	}
	if s.Joining && (s.Primary || !s.Running) {
		errs = append(errs, errors.New("says it is joining but Primary or not running"))
	}
	if s.Primary && !s.Running {
		errs = append(errs, errors.New("says it is Primary but not running"))
	}
	if s.Running && s.Phase != PhaseRunning && s.Phase != PhaseStopping {
		errs = append(errs, fmt.Errorf("says it is running in phase %q", s.Phase))
	}
	if s.Ready && !s.Primary {
		errs = append(errs, errors.New("says it is ready but not Primary"))
	}
	if s.LocalIndex < -1 || s.LocalIndex >= 1000 || (s.Ready && s.LocalIndex >= s.ClusterSize) {
		errs = append(errs, fmt.Errorf("local index %d in a cluster of %d", s.LocalIndex, s.ClusterSize))
	}
	if s.ClusterSize < 0 || s.ClusterSize > 1000 {
		errs = append(errs, fmt.Errorf("cluster size %d", s.ClusterSize))
	}
	if s.Primary && s.ClusterSize < 1 {
		errs = append(errs, errors.New("says it is Primary in a cluster of size 0"))
	}
	if len(s.SystemTables) > 64 || strings.IndexFunc(s.SystemTables, func(r rune) bool { return !strings.ContainsRune("0123456789abcdef", r) }) >= 0 {
		errs = append(errs, fmt.Errorf("system tables digest %q: want at most 64 hex digits", clip(s.SystemTables)))
	}
	if s.GaleraProtocols != "" {
		if p, err := galera.ParseProtocols(s.GaleraProtocols); err != nil || p.String() != s.GaleraProtocols {
			errs = append(errs, fmt.Errorf("galera protocols %q: want gcs/repl/appl", clip(s.GaleraProtocols)))
		}
	}
	if len(s.ProviderVersion) > 64 || strings.IndexFunc(s.ProviderVersion, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) >= 0 {
		errs = append(errs, fmt.Errorf("provider version %q: want at most 64 printable characters without spaces", clip(s.ProviderVersion)))
	}
	for name, v := range map[string]string{"mariadb version": s.MariaDBVersion, "data version": s.DataVersion} {
		if v == "" {
			continue
		}
		if p, err := upgrade.Parse(v); err != nil || len(v) > 32 || p.String() != v {
			errs = append(errs, fmt.Errorf("%s %q: want X.Y.Z", name, clip(v)))
		}
	}
	return errors.Join(errs...)
}

// ValidName accepts what can be a node name: a hostname or pod name, 1 to
// 253 printable characters without spaces.
func ValidName(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("node name %q: want 1 to 253 characters", clip(name))
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("node name %q: unprintable or space characters", clip(name))
		}
	}
	return nil
}

// DecodeState reads and validates one State document.
func DecodeState(r io.Reader) (State, error) {
	var s State
	b, err := io.ReadAll(io.LimitReader(r, maxStateBytes+1))
	if err != nil {
		return s, fmt.Errorf("read state: %w", err)
	}
	if len(b) > maxStateBytes {
		return s, fmt.Errorf("state document larger than %d bytes", maxStateBytes)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("decode state: %w", err)
	}
	if err := s.Validate(); err != nil {
		return State{}, fmt.Errorf("invalid state: %w", err)
	}
	return s, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
