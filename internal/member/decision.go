package member

// Action is what a member decided, by its stable wire name: peers,
// force-bootstrap, metrics labels and the journal switch on it, so a name
// once published is never changed (new actions may be added). The reason
// beside it is prose for people and is never branched on.
type Action string

// The actions of every mode. An unknown action read from a newer
// sentinel is shown as it is.
const (
	// Galera (galera.Action, same names).
	Wait         Action = "wait"
	Join         Action = "join"
	BootstrapNew Action = "bootstrap-new"
	Bootstrap    Action = "bootstrap"
	Refuse       Action = "refuse"
	StepDown     Action = "step-down"
	// Replication (replica.StartAction, same names; wait and refuse
	// above).
	Primary Action = "primary"
	Replica Action = "replica"
	Clone   Action = "clone"
	// The lifecycle's own: another try after a failure, and a restart
	// of a mariadbd that is alive but out of its cluster for good.
	Retry   Action = "retry"
	Restart Action = "restart"
)

// Decision is an action, the reason a person reads, and the class of
// the rule that made it.
type Decision struct {
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	Class  Class  `json:"class,omitempty"`
}

// Class names the rule that made a decision, without the reason's
// changing parts: what the decision metric labels it by
// (galera_sentinel_member_decision_info{reason}). A mode's decisions take
// their domain's class as it is (galera.DecisionClass,
// replica.DecisionClass); a value once published is never changed.
type Class string

// The classes of the lifecycle's own decisions. Before decisions carried
// a class the label was cut from the reason (up to its first ':', '(' or
// digit); ClassRestart is that cut, and a retry's reason began with the
// failure's own wording, so ClassRetry is a constant in its place.
// ClassRestartRequired is a restart mariadbd asked for in its own log
// (Galera's "node restart required").
const (
	ClassRetry           Class = "trying again"
	ClassRestart         Class = "mariadbd is out of the cluster for good"
	ClassRestartRequired Class = "mariadbd says this node must be restarted"
)

// String is the decision as people read it: "action: reason".
func (d Decision) String() string {
	if d.Reason == "" {
		return string(d.Action)
	}
	return string(d.Action) + ": " + d.Reason
}

// Refused reports whether the decision refuses to start until a person
// steps in.
func (d Decision) Refused() bool { return d.Action == Refuse }
