//go:build e2ek8s

package kube

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

// 17. One member cut off from the others while writes go through the
// writer Service and the client Service. With worker nodes, its node is
// partitioned from the other nodes and their pods (it still reaches the
// API server and the clients on the host: testkube.Partition). On the one
// node, its pod's network drops the other pods' addresses. The two others
// keep quorum; the cut-off member goes non-Primary and is never a Primary
// component of its own, leaves the client Service within seconds (its
// own /readyz, and the survivors' patch), and is never the writer. When
// the partition heals, mariadbd merges back by itself: an incremental
// state transfer (IST, it kept its data), Ready again, no acknowledged
// row lost.
func testS17Partition(t *testing.T) {
	ctx := testCtx(t, 15*time.Minute)
	waitHealthy(t, ctx, 5*time.Minute)
	ps := mustPods(t, ctx)
	labelledW := labelledWriter(t, ctx)
	var names []string
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	victim := ""
	for _, n := range names {
		if n != labelledW {
			victim = n
			break
		}
	}
	ip := ps[victim].Status.PodIP
	var others []string
	for n, p := range ps {
		if n != victim {
			others = append(others, p.Status.PodIP)
		}
	}

	first := maxID(t, ctx)
	var clients, writers []*writer
	cdb, wdb := client(t, ctx), writerClient(t, ctx)
	for i := range 3 {
		clients = append(clients, startWriter(cdb, first+int64(i)*10_000_000, 50*time.Millisecond))
		writers = append(writers, startWriter(wdb, first+int64(i+3)*10_000_000, 50*time.Millisecond))
	}
	time.Sleep(3 * time.Second)

	node := nodeOf(t, ctx, victim)
	t0 := time.Now()
	heal := cut(t, ctx, victim, node, ip, others)
	defer heal()
	t.Logf("%s (on %s) cut off from the other members at %s; the writer is %s", victim, node, t0.Format("15:04:05.000"), labelledW)

	// For 25 s: when the victim leaves the client Service, whether it
	// is ever in the writer Service, and what it says of its component
	// (a Primary component of its own would be a split brain).
	var outClient time.Duration
	var inWriter, ownPrimary []string
	for time.Since(t0) < 25*time.Second {
		now := time.Now()
		ce, err1 := readyEndpointsOf(ctx, "galera")
		we, err2 := readyEndpointsOf(ctx, "galera-writer")
		if err1 == nil && outClient == 0 && !ce[ip] {
			outClient = now.Sub(t0)
		}
		if err2 == nil && we[ip] {
			inWriter = append(inWriter, fmt.Sprintf("+%v", now.Sub(t0).Round(100*time.Millisecond)))
		}
		if out, err := query(ctx, victim, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('wsrep_cluster_size','wsrep_cluster_status') ORDER BY VARIABLE_NAME"); err == nil {
			if f := strings.Fields(out); len(f) == 2 && f[1] == "Primary" && f[0] != fmt.Sprint(replicas) {
				ownPrimary = append(ownPrimary, fmt.Sprintf("+%v size %s", now.Sub(t0).Round(100*time.Millisecond), f[0]))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, o := range names {
		if o == victim {
			continue
		}
		out, err := query(ctx, o, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('wsrep_cluster_size','wsrep_cluster_status') ORDER BY VARIABLE_NAME")
		if f := strings.Fields(out); err != nil || len(f) != 2 || f[0] != "2" || f[1] != "Primary" {
			t.Errorf("%s during the partition: size, status = %v (%v), want a Primary component of 2", o, f, err)
		}
	}
	c, err := podConditions(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s out of the client Service at +%v; Ready %s (%s), gate %s (%s)", victim, outClient.Round(100*time.Millisecond),
		c["Ready"].Status, c["Ready"].Reason, c["galera-sentinel.io/primary"].Status, c["galera-sentinel.io/primary"].Reason)
	if outClient == 0 || outClient > 15*time.Second {
		t.Errorf("%s left the client Service at +%v, want within 15s", victim, outClient)
	}
	if len(inWriter) > 0 {
		t.Errorf("the cut-off member was in the writer Service at %v", inWriter)
	}
	if len(ownPrimary) > 0 {
		t.Errorf("the cut-off member was a Primary component of its own: %v", ownPrimary)
	}

	healed := time.Now()
	heal()
	waitUntil(t, ctx, victim+" Ready again", time.Second, func() error {
		c, err := podConditions(ctx, victim)
		if err != nil {
			return err
		}
		if c["Ready"].Status != "True" || c["galera-sentinel.io/primary"].Status != "True" {
			return fmt.Errorf("Ready %+v, gate %+v", c["Ready"], c["galera-sentinel.io/primary"])
		}
		return nil
	})
	back := time.Since(healed)
	waitHealthy(t, ctx, 5*time.Minute)
	logs, err := cluster.Kubectl(ctx, "-n", ns, "logs", victim, "--since-time", t0.UTC().Format(time.RFC3339))
	if err != nil {
		t.Fatal(err)
	}
	// A running mariadbd cannot take a full snapshot (SST) without a
	// restart, so with no restart (below), "IST received" is the whole
	// story; the transfer's lines go to the log for the record.
	var transfer []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "IST") || strings.Contains(line, "SST") {
			transfer = append(transfer, line)
		}
	}
	ist := strings.Contains(logs, "IST received")
	t.Logf("healed: %s Ready again after %v; IST received %v; its transfer lines:\n%s", victim, back.Round(100*time.Millisecond), ist,
		strings.Join(transfer[:min(len(transfer), 12)], "\n"))
	if !ist {
		t.Errorf("%s rejoined with no IST received: want an incremental transfer (it kept its data)", victim)
	}
	if after := mustPods(t, ctx)[victim]; after.Metadata.UID != ps[victim].Metadata.UID || after.restarts() != ps[victim].restarts() {
		t.Errorf("%s was restarted or replaced across the partition (restarts %d → %d): mariadbd should have merged back by itself",
			victim, ps[victim].restarts(), after.restarts())
	}
	time.Sleep(2 * time.Second)
	cs, ws := collect(clients), collect(writers)
	t.Logf("through the client Service: %d attempted, %d committed, %d failed; longest time without a commit %v; by member %v",
		cs.Attempts, len(cs.Acked), len(cs.Failures), cs.longestGap(t0).Round(100*time.Millisecond), cs.byHost())
	logFailures(t, cs)
	t.Logf("through the writer Service: %d attempted, %d committed, %d failed; longest time without a commit %v; by member %v",
		ws.Attempts, len(ws.Acked), len(ws.Failures), ws.longestGap(t0).Round(100*time.Millisecond), ws.byHost())
	logFailures(t, ws)
	if len(ws.Failures) > 0 {
		t.Errorf("%d failed through the writer Service: its member was never cut off", len(ws.Failures))
	}
	acked := cs.Acked
	for id, h := range ws.Acked {
		acked[id] = h
	}
	verifyRows(t, ctx, acked)
}

// cut cuts victim off from the other members and returns what heals it.
func cut(t *testing.T, ctx context.Context, victim, node, ip string, others []string) func() {
	t.Helper()
	if multiNode() {
		if err := cluster.Partition(ctx, node); err != nil {
			t.Fatal(err)
		}
		done := false
		return func() {
			if !done {
				done = true
				if err := cluster.Heal(context.Background(), node); err != nil {
					t.Error(err)
				}
			}
		}
	}
	netns, err := testkube.PodNetns(ctx, ip)
	if err != nil {
		t.Fatal(err)
	}
	var rules [][]string
	for _, o := range others {
		rules = append(rules, []string{"INPUT", "-s", o, "-j", "DROP"}, []string{"OUTPUT", "-d", o, "-j", "DROP"})
	}
	ipt := func(op string, r []string) error {
		out, err := exec.Command("nsenter", append([]string{"--net=/run/netns/" + netns, "--", "iptables", "-w", op}, r...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s %v in %s: %v: %s", op, r, netns, err, out)
		}
		return nil
	}
	for _, r := range rules {
		if err := ipt("-I", r); err != nil {
			t.Fatal(err)
		}
	}
	done := false
	return func() {
		if !done {
			done = true
			for _, r := range rules {
				if err := ipt("-D", r); err != nil {
					t.Error(err)
				}
			}
		}
	}
}
