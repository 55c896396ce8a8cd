package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/galera-sentinel/galera-sentinel/internal/demo"
)

// runDemo starts the local demo cluster until ctx ends.
func runDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "demo [flags]", "Start a local 3-node MariaDB Galera cluster on loopback, each node under 'galera-sentinel run',\nwith HAProxy in front; show the cluster until Ctrl-C, then stop everything and remove what it made.\nNeeds root and Debian's mariadb-server, galera-4 and haproxy (make deps).", stderr)
	cfg := demo.Config{Out: stdout, Errout: stderr}
	fs.StringVar(&cfg.Workdir, "workdir", os.TempDir(), "where the demo's temporary directory is made (removed on exit)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: demo takes no arguments, got %q", errUsage, fs.Args())
	}
	if f, ok := stdout.(*os.File); ok && isTerminal(f) {
		cfg.TTY = true
	}
	return demo.Run(ctx, cfg)
}
