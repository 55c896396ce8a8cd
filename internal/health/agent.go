package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// DonorWeight is the agent's weight for a Donor/Desynced node that stays
// ready (--available-when-donor): it is busy sending a state transfer, so
// it gets a quarter of its share.
const DonorWeight = "25%"

// AgentAnswer is the reply to HAProxy's agent-check at now: one line of
// words HAProxy understands.
//
//   - ready: "up ready 100%" (the weight of a ready donor is DonorWeight).
//     "ready" ends a drain or maintenance the agent started earlier: only
//     the agent can undo what it did.
//   - stopping (run mode drains before mariadbd stops): "drain". HAProxy
//     sends no new connections; the open ones finish.
//   - the operator's maintenance (file or API): "maint". No new
//     connections; HAProxy shows MAINT, and keeps asking the agent, which
//     answers "ready" when maintenance ends.
//   - anything else: "down #<reason>".
func AgentAnswer(s *Snapshot, pol galera.Policy, now time.Time) string {
	r := pol.Ready(s.Observation, now)
	switch {
	case s.Stopping:
		return "drain"
	case s.Maintenance:
		return "maint"
	case r.OK && s.Last != nil && s.Last.LocalState == galera.StateDonor:
		return "up ready " + DonorWeight
	case r.OK:
		return "up ready 100%"
	}
	return "down #" + agentComment(r.Reason)
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

// ServeAgent answers HAProxy's agent-check on ln until ctx ends: each
// connection gets one line at once and is closed. HAProxy may send a line
// first (agent-send); it is read and ignored, so that closing the socket
// never resets the connection before HAProxy has read the answer. Every
// connection ends within agentDeadline, whatever the peer does, so a
// flood of them costs bounded memory and never delays an answer.
func ServeAgent(ctx context.Context, ln net.Listener, p *Poller) error {
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
			answerAgent(c, AgentAnswer(p.Snapshot(), p.Policy(), time.Now()))
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
