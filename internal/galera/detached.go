package galera

import "time"

// DetachedSettle is how long a running node must look Detached, checked
// again and again, before it is restarted: long enough that one odd
// sample (a provider reconnecting) does not stop a node, short against
// the minutes a member out of its cluster costs.
const DetachedSettle = 5 * time.Second

// Detached reports whether a sample shows mariadbd alive but out of its
// cluster for good: wsrep is on, yet the provider is disconnected and the
// node sits in Initialized. Galera leaves a node so after a state
// transfer it cannot finish ("Receiving IST failed, node restart
// required"): it answers queries, never rejoins, and only a restart mends
// it. A node that runs normally is never in this state once it answers
// queries: it connects to the cluster before it serves, and a node cut
// off from its peers stays connected (non-Primary), which Decide's
// step-down covers.
func Detached(s Sample) bool {
	return s.WsrepOn && !s.Connected && !s.Ready && s.LocalState == StateUnknown && s.ClusterStatus != "Primary"
}

// RestartDetached reports whether a node seen Detached in every check
// since since (zero: not Detached now) has stayed so long enough, at now,
// to be restarted. checks is how many checks in a row saw it: one check
// alone never restarts a node.
func RestartDetached(since, now time.Time, checks int) bool {
	return !since.IsZero() && checks >= 3 && now.Sub(since) >= DetachedSettle
}
