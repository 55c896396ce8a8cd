// Command pause is the pod sandbox image of the test cluster (testkube):
// containerd keeps every pod's network namespace alive with a process that
// does nothing. No registry is reachable here, so the suite builds this one
// instead of pulling registry.k8s.io/pause. It waits for SIGTERM or SIGINT
// and exits 0; it must never do anything else.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
