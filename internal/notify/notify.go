// Package notify carries mariadbd's wsrep_notify_cmd calls to the local
// sentinel over a unix socket, so that a membership or state change is
// seen at once instead of at the next poll.
//
// A notification is only a hint: it makes the sentinel poll now. It never
// changes a verdict by itself, so a local user who writes to the socket
// can at most cause extra polls, which coalesce. That is why the socket
// may be writable by the mysql user that runs mariadbd. It must not carry
// a state or a verdict: the poller reads the node itself.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxMessage bounds one notification; mariadbd sends well under 1 KiB
// per member.
const MaxMessage = 16 << 10

// readDeadline bounds how long a notifier may take to send its line.
const readDeadline = time.Second

// Listen opens the socket at path. A socket left behind by a sentinel
// that died is replaced; any other file at path is an error, never
// removed.
func Listen(path string) (*net.UnixListener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("notify socket %s: exists and is not a socket; not touching it", path)
		}
		if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("notify socket %s: another process is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("notify socket %s: remove stale socket: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	// mariadbd runs as another user than the sentinel in many setups;
	// see the package comment for why anyone may write.
	if err := os.Chmod(path, 0o666); err != nil {
		ln.Close()
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	return ln, nil
}

// Serve reads notifications on ln until ctx ends and calls fn with each
// one's text (the arguments mariadbd passed, on one line). The socket
// file is removed when Serve returns.
func Serve(ctx context.Context, ln *net.UnixListener, fn func(msg string), logger *slog.Logger) error {
	ln.SetUnlinkOnClose(true)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("notify socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(readDeadline))
			b, err := io.ReadAll(io.LimitReader(c, MaxMessage))
			if len(b) == 0 && err != nil {
				logger.Debug("notify: unreadable notification", "err", err)
				return
			}
			msg := strings.Join(strings.Fields(string(b)), " ")
			logger.Debug("wsrep notification", "msg", msg)
			fn(msg)
		}()
	}
}

// Send delivers one notification to the sentinel listening at path,
// within timeout.
func Send(path string, args []string, timeout time.Duration) error {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	msg := strings.Join(args, " ")
	if len(msg) > MaxMessage-1 {
		msg = msg[:MaxMessage-1]
	}
	_, err = io.WriteString(c, msg+"\n")
	return err
}
