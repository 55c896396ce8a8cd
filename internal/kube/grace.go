package kube

import (
	"fmt"
	"time"
)

// Stop is how long a member's stop may take after SIGTERM, step by step:
// what the kubelet's grace period must cover for mariadbd to be stopped
// cleanly rather than killed.
type Stop struct {
	DrainDelay, DrainTimeout, ShutdownTimeout time.Duration
}

// Total is the longest stop: the drain's delay and wait, then mariadbd's
// shutdown.
func (s Stop) Total() time.Duration { return s.DrainDelay + s.DrainTimeout + s.ShutdownTimeout }

// ShortGrace says, when a pod's grace period (terminationGracePeriodSeconds)
// is shorter than the member's longest stop, what follows and what to
// change. The kubelet kills the container at the end of the grace period:
// a mariadbd killed in its shutdown leaves a data directory to recover, a
// Galera position to find again (--wsrep-recover), and, before a new
// image, one that a newer MariaDB may refuse ("Upgrade after a crash is
// not supported"). ok is false when the grace period covers the stop.
func ShortGrace(grace time.Duration, s Stop) (why string, ok bool) {
	if grace >= s.Total() {
		return "", false
	}
	return fmt.Sprintf("this pod's terminationGracePeriodSeconds (%s) is shorter than its stop may take (%s: --drain-delay %s, --drain-timeout %s, --shutdown-timeout %s): "+
		"the kubelet would kill mariadbd in the middle of its clean shutdown, leaving a data directory to recover, and one a newer MariaDB may refuse when the stop precedes a new image; "+
		"raise terminationGracePeriodSeconds above %s, or lower --shutdown-timeout",
		grace, s.Total(), s.DrainDelay, s.DrainTimeout, s.ShutdownTimeout, s.Total()), true
}
