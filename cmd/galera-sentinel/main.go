// Command galera-sentinel runs next to a MariaDB Galera node: it answers
// load-balancer and Kubernetes probes truthfully, and (in run mode) decides
// whether its node bootstraps, joins or waits. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "galera-sentinel:", err)
		os.Exit(exitCode(err))
	}
}
