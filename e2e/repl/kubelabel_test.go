package repl

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/kube/kubetest"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestRunKubeWriterLabel: run --mode=replication with --kube-writer-label
// against an API server that records the labels: the primary's pod says
// "true", the replica's "false"; a switchover moves the label with
// /writerz; SIGTERM of the primary sets its label "false" before it
// exits.
func TestRunKubeWriterLabel(t *testing.T) {
	api := kubetest.Start(t, "repl-db", "repl-sa-token-0123456789")
	// Kubernetes' default grace (30 s), shorter than this set's stop
	// (--drain-timeout=1s, --shutdown-timeout=60s): each sentinel says so.
	api.SetGrace(30)
	rs := newRunSet(t, 2)
	primary, rep := rs.c.Nodes[0], rs.c.Nodes[1]
	sa := api.ServiceAccountDir(t, filepath.Dir(primary.Dir))
	host, port := api.HostPort()
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	base := rs.flags
	rs.flags = func(n *testcluster.Node) []string {
		return append(base(n), "--kube-writer-label", "--kube-pod-name="+n.Name, "--kube-service-account-dir="+sa)
	}
	defer func() {
		if t.Failed() {
			t.Logf("labels:\n%s", api)
		}
	}()
	waitLabels := func(what string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := api.True(primary.Name, rep.Name)
			if strings.Join(got, ",") == strings.Join(want, ",") {
				if v, _ := api.Label(rep.Name); v == "" {
					t.Fatalf("%s: %s was never labelled", what, rep.Name)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: labelled true %v, want %v", what, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rs.start(primary)
	rs.start(rep)
	waitProbe(t, url(primary, "/writerz"), 200, "", 60*time.Second)
	waitProbe(t, url(rep, "/readyz"), 200, "", 90*time.Second)
	waitLabels("primary and replica ready", primary.Name)
	for _, n := range rs.c.Nodes {
		if h := api.History(n.Name); len(h) == 0 || h[0].Value != "false" {
			t.Errorf("%s: history %v, want \"false\" first", n.Name, h)
		}
	}
	if r := api.Refused(); len(r) > 0 {
		t.Fatalf("refused calls: %q", r)
	}
	for _, n := range rs.c.Nodes {
		b, _ := os.ReadFile(n.SentinelLog())
		if !strings.Contains(string(b), "terminationGracePeriodSeconds (30s) is shorter than its stop may take (1m1s") {
			t.Errorf("%s did not warn of a grace period shorter than its stop (pod GETs: %d)", n.Name, api.PodGets())
		}
	}

	// A switchover: the label moves with /writerz. Ready within
	// --replica-connect-grace is not yet replicating, and the switchover
	// refuses a candidate whose IO thread still connects: wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		st, _ := rep.SlaveStatus(ctx)
		if st["Slave_IO_Running"] == "Yes" && st["Slave_SQL_Running"] == "Yes" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never replicated: %v", rep.Name, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	begin := time.Now()
	// A replica's IO thread may reconnect for a moment on a loaded
	// machine, and the switchover rightly refuses a candidate that does
	// not replicate: tried again then, a few times.
	for try := 1; ; try++ {
		cmd := exec.CommandContext(ctx, sentinelBinary(t), "switchover", "--to="+rep.SentinelAddr(),
			"--peers="+primary.SentinelAddr()+","+rep.SentinelAddr(), "--wait=20s", "--settle=20s")
		cmd.Env = []string{"GALERA_SENTINEL_TOKEN=" + token}
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		if try >= 5 || !strings.Contains(string(out), "does not replicate") {
			t.Fatalf("switchover (try %d): %v\n%s", try, err, out)
		}
		t.Logf("switchover refused, the candidate's IO thread reconnecting; trying again:\n%s", out)
		time.Sleep(time.Second)
	}
	waitLabels("after the switchover", rep.Name)
	_, oldFalse := api.Label(primary.Name)
	_, newTrue := api.Label(rep.Name)
	t.Logf("switchover (%v): old primary's label false at +%v, new primary's true at +%v", time.Since(begin).Round(time.Millisecond),
		oldFalse.Sub(begin).Round(time.Millisecond), newTrue.Sub(begin).Round(time.Millisecond))

	// SIGTERM of the (new) primary: "false" before it exits.
	term := time.Now()
	rs.stop(rep)
	exited := time.Now()
	v, at := api.Label(rep.Name)
	if v != "false" || at.Before(term) || at.After(exited) {
		t.Fatalf("%s after SIGTERM: label %q at %v (SIGTERM %v, exit %v), want \"false\" in between", rep.Name, v, at, term, exited)
	}
	t.Logf("SIGTERM of the primary: label false %v after, %v before the exit", at.Sub(term).Round(time.Millisecond), exited.Sub(at).Round(time.Millisecond))
	rs.stop(primary)
	if v, _ := api.Label(primary.Name); v != "false" {
		t.Errorf("%s: label %q after its stop", primary.Name, v)
	}
}
