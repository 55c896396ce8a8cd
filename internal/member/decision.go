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

// Decision is an action and the reason a person reads.
type Decision struct {
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
}

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
