package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/galera-sentinel/galera-sentinel/internal/member"
	"github.com/galera-sentinel/galera-sentinel/internal/sentinel"
)

// Set by the linker: -X main.version=... -X main.commit=...
var (
	version = ""
	commit  = ""
)

// errUsage marks a command line we could not understand; it exits 2, as
// flag parsing errors conventionally do.
var errUsage = sentinel.ErrUsage

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	if e, ok := errors.AsType[*member.ExitError](err); ok {
		return e.Code
	}
	return 1
}

const usage = `galera-sentinel: health probes, bootstrap and recovery for MariaDB Galera

Usage:
  galera-sentinel <command> [flags]

Commands:
  serve      watch a Galera node and serve the probe endpoints (/readyz, /livez, ...)
  run        entrypoint: bootstrap, join or wait; start and supervise mariadbd; serve the endpoints
  status     print the cluster as the sentinels see it, one row per member
  force-bootstrap NODE
             after a full outage with a member gone for good: NODE bootstraps without it (send to any member)
  switchover move the primary of a replication set to another member, on request (no automatic failover)
  events     print a member's event journal (verdicts, decisions, drains, mariadbd exits), across restarts
  notify     mariadbd's wsrep_notify_cmd: tell the local sentinel the node's state changed
  demo       a local 3-node cluster on loopback with sentinels and HAProxy, to try it out
  version    print version, commit and Go version

Run 'galera-sentinel <command> -h' for the flags of a command.
`

// run is main without the process: arguments, environment and output are
// injected so tests can drive every command.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // -h or --help: the usage was printed, as asked
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "run":
		return runRun(ctx, args[1:], getenv, stdout, stderr)
	case "status":
		return runStatus(ctx, args[1:], getenv, stdout, stderr)
	case "events":
		return runEvents(ctx, args[1:], getenv, stdout, stderr)
	case "switchover":
		return runSwitchover(ctx, args[1:], getenv, stdout, stderr)
	case "force-bootstrap":
		return runForceBootstrap(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		return runDemo(ctx, args[1:], getenv, stdout, stderr)
	case "notify":
		return runNotify(args[1:], getenv, stderr)
	case "version", "--version", "-version":
		return runVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: version takes no arguments, got %q", errUsage, fs.Args())
	}
	v, c := buildVersion()
	fmt.Fprintf(stdout, "galera-sentinel %s\ncommit: %s\ngo: %s %s/%s\n", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildVersion prefers what the linker stamped (make build, make dist) and
// falls back to what the Go toolchain recorded (go install, go build).
func buildVersion() (ver, rev string) {
	ver, rev = version, commit
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return orUnknown(ver), orUnknown(rev)
	}
	if ver == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if rev == "" {
		dirty := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
	}
	if ver == "" {
		ver = "devel"
	}
	return ver, orUnknown(rev)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
