package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/notify"
)

// notifySocketEnv names the socket when --socket is not given.
const notifySocketEnv = envPrefix + "NOTIFY_SOCKET"

// notifyTimeout bounds a notification: mariadbd waits for its notify
// command while it changes state, so it must never wait long.
const notifyTimeout = time.Second

// runNotify is mariadbd's wsrep_notify_cmd:
//
//	galera-sentinel notify --socket=PATH [--status S --uuid U --primary yes|no --members M --index I]
//
// It passes the arguments mariadbd gives it to the local sentinel, which
// polls at once. Only --socket is ours; everything else is mariadbd's and
// is passed on as it is, so a new argument in a new mariadbd version
// never breaks the notifier.
func runNotify(args []string, getenv func(string) string, stderr io.Writer) error {
	socket := getenv(notifySocketEnv)
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--socket" || a == "-socket":
			if i+1 >= len(args) {
				return fmt.Errorf("%w: notify: --socket needs a path", errUsage)
			}
			socket = args[i+1]
			i++
		case strings.HasPrefix(a, "--socket=") || strings.HasPrefix(a, "-socket="):
			socket = a[strings.IndexByte(a, '=')+1:]
		case a == "-h" || a == "--help":
			fmt.Fprintf(stderr, "Usage: galera-sentinel notify --socket=PATH [mariadbd's wsrep_notify_cmd arguments]\n\n"+
				"Set as mariadbd's wsrep_notify_cmd; tells the sentinel listening on --notify-socket=PATH\n"+
				"that the node's state changed. The socket may also be given as %s.\n", notifySocketEnv)
			return nil
		default:
			rest = append(rest, a)
		}
	}
	if socket == "" {
		return fmt.Errorf("%w: notify: give the sentinel's socket with --socket=PATH or %s", errUsage, notifySocketEnv)
	}
	if err := notify.Send(socket, rest, notifyTimeout); err != nil {
		// mariadbd logs our failure and carries on; the sentinel's poll
		// still sees the change, one interval later.
		return fmt.Errorf("notify: tell the sentinel at %s: %w (it will see the change at its next poll)", socket, err)
	}
	return nil
}
