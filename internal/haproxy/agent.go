// Package haproxy is the HAProxy integration: the agent-check server
// (agent-check, agent-port), which tells HAProxy up, drain, maint or down
// with a weight, one line per connection. It reads the node's state from
// health and must not judge it: verdicts are readiness's and the domain's.
// Another load balancer gets a package of its own next to this one.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/health"
)

// Answer is the reply to HAProxy's agent-check: one line of words HAProxy
// understands.
//
//   - ready: "up ready 100%" (a lower weight for a node that is ready but
//     busy, such as a Galera donor with --available-when-donor).
//     "ready" ends a drain or maintenance the agent started earlier: only
//     the agent can undo what it did.
//   - stopping (run mode drains before mariadbd stops): "drain". HAProxy
//     sends no new connections; the open ones finish.
//   - the operator's maintenance (file or API): "maint". No new
//     connections; HAProxy shows MAINT, and keeps asking the agent, which
//     answers "ready" when maintenance ends.
//   - anything else: "down #<reason>".
func Answer(t health.Traffic) string {
	switch {
	case t.Stopping:
		return "drain"
	case t.Maintenance:
		return "maint"
	case t.Ready.OK:
		return "up ready " + strconv.Itoa(t.Weight) + "%"
	}
	return "down #" + agentComment(t.Ready.Reason)
}

// agentComment keeps a reason on one line of printable ASCII: HAProxy
// reads up to the first CR or LF and shows the rest on its stats page.
func agentComment(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
		if b.Len() >= 200 {
			break
		}
	}
	return b.String()
}

// Agent limits: an answer is one short line, so anything slow is a stuck
// or hostile peer.
const (
	agentDeadline = 2 * time.Second
	agentDrain    = 500 * time.Millisecond
)

// Serve answers HAProxy's agent-check on ln until ctx ends: each
// connection gets one line at once and is closed. HAProxy may send a line
// first (agent-send); it is read and ignored, so that closing the socket
// never resets the connection before HAProxy has read the answer. Every
// connection ends within agentDeadline, whatever the peer does, so a
// flood of them costs bounded memory and never delays an answer.
func Serve(ctx context.Context, ln net.Listener, state func(now time.Time) health.Traffic) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
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
			return fmt.Errorf("agent-check: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			answerAgent(c, Answer(state(time.Now())))
		}()
	}
}

func answerAgent(c net.Conn, answer string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(agentDeadline))
	if _, err := io.WriteString(c, answer+"\n"); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	// Read whatever the peer sent until it closes, briefly.
	_ = c.SetReadDeadline(time.Now().Add(agentDrain))
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 4<<10))
}
