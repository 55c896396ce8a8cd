package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/kube/kubetest"
	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

const kubeNS, kubeToken = "galera-db", "kube-sa-token-abcdef"

// trues are the nodes whose pods api has labelled the writer.
func trues(api *kubetest.API, nodes []*testcluster.Node) []string {
	var pods []string
	for _, n := range nodes {
		pods = append(pods, n.Name)
	}
	return api.True(pods...)
}

// TestKubeWriterLabel: three run-mode members with --kube-writer-label
// (on through the environment, as the manifests do) against an API
// server that records the labels: every pod is labelled "false" first;
// once Synced exactly one says "true", the member whose /writerz answers
// 200. After SIGTERM of the writer its label is "false" at once, well
// before it exits, and another member's becomes "true".
func TestKubeWriterLabel(t *testing.T) {
	api := kubetest.Start(t, kubeNS, kubeToken)
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	sa := api.ServiceAccountDir(t, filepath.Dir(rc.C.Nodes[0].Dir))
	host, port := api.HostPort()
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	t.Setenv("GALERA_SENTINEL_KUBE_WRITER_LABEL", "true")
	rc.WithFlags(func(n *testcluster.Node) []string {
		return []string{"--kube-pod-name=" + n.Name, "--kube-service-account-dir=" + sa}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Logf("labels:\n%s", api)
		}
	}()
	begin := time.Now()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	synced := time.Since(begin)

	// Exactly one "true", the /writerz writer, soon after Synced.
	w := testsentinel.CurrentWriter(t, rc.C.Nodes)
	testcluster.EventuallyWithin(t, 5*time.Second, "only the writer "+w.Name+" labelled true", 20*time.Millisecond, func() error {
		if tr := trues(api, rc.C.Nodes); !(len(tr) == 1 && tr[0] == w.Name) {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	for _, n := range rc.C.Nodes {
		if h := api.History(n.Name); len(h) == 0 || h[0].Value != "false" {
			t.Errorf("%s: label history %v, want \"false\" first", n.Name, h)
		}
	}
	if len(api.Refused()) > 0 {
		t.Fatalf("the API server refused calls: %s", api)
	}
	// Stable: still one for a few re-checks.
	for range 10 {
		if tr := trues(api, rc.C.Nodes); len(tr) != 1 || tr[0] != w.Name {
			t.Fatalf("labelled true: %v, want only %s", tr, w.Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, wTrueAt := api.Label(w.Name)
	t.Logf("start -> Synced %v; writer %s labelled true at +%v", synced.Round(time.Millisecond), w.Name, wTrueAt.Sub(begin).Round(time.Millisecond))

	// Maintenance on the writer: its label follows /writerz, handover
	// window included: its successor's "true" at once, its own "false"
	// when the window ends (two "true" for the window, never none).
	// Maintenance off: the lowest index is the writer again.
	maint := func(state string) time.Time {
		req, _ := http.NewRequest("POST", "http://"+w.SentinelAddr()+"/api/v1/maintenance?state="+state, nil)
		req.Header.Set("Authorization", "Bearer "+testsentinel.Token)
		resp, err := testsentinel.ProbeClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("maintenance %s: %d", state, resp.StatusCode)
		}
		return time.Now()
	}
	on := maint("on")
	waitLabels := func(what string, want ...string) time.Duration {
		t.Helper()
		from := time.Now()
		for {
			tr := trues(api, rc.C.Nodes)
			if strings.Join(tr, ",") == strings.Join(want, ",") {
				return time.Since(from)
			}
			if time.Since(from) > 15*time.Second {
				t.Fatalf("%s: labelled true %v, want %v", what, tr, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var succ string
	for succ == "" && time.Since(on) < 10*time.Second {
		for _, n := range trues(api, rc.C.Nodes) {
			if n != w.Name {
				succ = n
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if succ == "" {
		t.Fatalf("no successor labelled true after maintenance on %s: %v", w.Name, trues(api, rc.C.Nodes))
	}
	_, succAt := api.Label(succ)
	if v, _ := api.Label(w.Name); v != "true" {
		t.Fatalf("%s: label %q as its successor's became true, want true for the handover window", w.Name, v)
	}
	waitLabels("the handover window ended", succ)
	_, wFalseAt := api.Label(w.Name)
	t.Logf("maintenance on %s: %s labelled true %v after, %s false %v after (both true for %v; --writer-handover=5s)", w.Name, succ,
		succAt.Sub(on).Round(time.Millisecond), w.Name, wFalseAt.Sub(on).Round(time.Millisecond), wFalseAt.Sub(succAt).Round(time.Millisecond))
	if wFalseAt.Sub(on) < 4*time.Second {
		t.Errorf("%s labelled false %v after maintenance on, before its handover window ended", w.Name, wFalseAt.Sub(on))
	}
	off := maint("off")
	waitLabels("maintenance off", w.Name)
	_, backAt := api.Label(w.Name)
	t.Logf("maintenance off: %s labelled true again %v after, %s alone %v after", w.Name, backAt.Sub(off).Round(time.Millisecond), w.Name, time.Since(off).Round(time.Millisecond))
	if cw := testsentinel.CurrentWriter(t, rc.C.Nodes); cw != w {
		t.Fatalf("/writerz says %s, the label %s", cw.Name, w.Name)
	}

	// SIGTERM of the writer.
	term := time.Now()
	if err := w.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := w.ExitCode(ctx)
	exited := time.Now()
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d, %v\n%s", w.Name, code, err, testsentinel.TailFile(w.SentinelLog(), 20))
	}
	v, falseAt := api.Label(w.Name)
	if v != "false" || falseAt.Before(term) {
		t.Fatalf("%s after its exit: label %q set at %v (SIGTERM at %v), want \"false\" set after the SIGTERM", w.Name, v, falseAt, term)
	}
	if lag := falseAt.Sub(term); lag > time.Second || exited.Sub(falseAt) < 2*time.Second {
		t.Fatalf("%s: label false %v after SIGTERM and %v before the exit: want at once, well before mariadbd stops", w.Name, lag, exited.Sub(falseAt))
	}
	var others []*testcluster.Node
	for _, n := range rc.C.Nodes {
		if n != w {
			others = append(others, n)
		}
	}
	testcluster.EventuallyWithin(t, 10*time.Second, "after the writer's SIGTERM, one of the others labelled true", 20*time.Millisecond, func() error {
		if tr := trues(api, others); len(tr) != 1 {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	next := trues(api, others)[0]
	_, nextAt := api.Label(next)
	if tr := trues(api, rc.C.Nodes); len(tr) != 1 {
		t.Fatalf("labelled true: %v, want only %s", tr, next)
	}
	if cw := testsentinel.CurrentWriter(t, others); cw.Name != next {
		t.Fatalf("%s is labelled the writer, /writerz says %s", next, cw.Name)
	}
	t.Logf("SIGTERM of writer %s: its label false after %v, %v before it exited (exit %v after SIGTERM); %s labelled true %v after the old writer's false (%v after SIGTERM)",
		w.Name, falseAt.Sub(term).Round(time.Millisecond), exited.Sub(falseAt).Round(time.Millisecond), exited.Sub(term).Round(time.Millisecond),
		next, nextAt.Sub(falseAt).Round(time.Millisecond), nextAt.Sub(term).Round(time.Millisecond))
	rc.StopAll(ctx, others...)
	for _, n := range rc.C.Nodes {
		if v, _ := api.Label(n.Name); v != "false" {
			t.Errorf("%s: label %q after the stop, want false", n.Name, v)
		}
	}
}

// mostTrue walks the label histories of pods in time order and returns
// the most pods labelled "true" at once from `from` on, and for how long
// two or more were.
func mostTrue(api *kubetest.API, from time.Time, pods ...string) (most int, twoOrMore time.Duration) {
	type ev struct {
		at  time.Time
		pod string
		v   string
	}
	var evs []ev
	for _, p := range pods {
		for _, s := range api.History(p) {
			evs = append(evs, ev{s.At, p, s.Value})
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	cur := map[string]bool{}
	var since time.Time
	count := func() int {
		n := 0
		for _, v := range cur {
			if v {
				n++
			}
		}
		return n
	}
	for _, e := range evs {
		before := count()
		cur[e.pod] = e.v == "true"
		after := count()
		if e.at.Before(from) {
			continue
		}
		most = max(most, after)
		switch {
		case before < 2 && after >= 2:
			since = e.at
		case before >= 2 && after < 2:
			twoOrMore += e.at.Sub(since)
		}
	}
	if count() >= 2 {
		twoOrMore += time.Since(since)
	}
	return most, twoOrMore
}

// TestKubeNodeLost: three members keeping both pod marks (the writer
// label and the Primary condition of the readiness gate, from the
// environment as the manifests set them). Every pod's condition is
// "False" first and "True" once in the component. Then every process of
// the writer's node is frozen (SIGSTOP of the sentinel and mariadbd: a
// node whose power failed, or cut off; its sentinel can change nothing
// any more): the survivors set its condition and its Ready "False" and
// its label "false" once Galera has dropped it (evs.suspect_timeout=PT3S here), one
// of them becomes the writer, and never two of them at once. Thawed, the
// member rejoins and sets its own condition "True" again, not before its
// sentinel has let its cluster state settle after the pause.
func TestKubeNodeLost(t *testing.T) {
	api := kubetest.Start(t, kubeNS, kubeToken)
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	sa := api.ServiceAccountDir(t, filepath.Dir(rc.C.Nodes[0].Dir))
	host, port := api.HostPort()
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	t.Setenv("GALERA_SENTINEL_KUBE_WRITER_LABEL", "true")
	t.Setenv("GALERA_SENTINEL_KUBE_PRIMARY_CONDITION", "true")
	rc.WithFlags(func(n *testcluster.Node) []string {
		return []string{"--kube-pod-name=" + n.Name, "--kube-service-account-dir=" + sa}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Logf("marks:\n%s", api)
		}
	}()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	names := make([]string, 0, 3)
	for _, n := range rc.C.Nodes {
		names = append(names, n.Name)
	}
	testcluster.EventuallyWithin(t, 10*time.Second, "every pod's Primary condition True", 20*time.Millisecond, func() error {
		for _, n := range names {
			if v, _ := api.Condition(n); v != "True" {
				return fmt.Errorf("%s: condition %q", n, v)
			}
		}
		return nil
	})
	for _, n := range names {
		if h := api.Conditions(n); h[0].Value != "False" {
			t.Errorf("%s: condition history %v, want \"False\" first", n, h)
		}
	}
	w := testsentinel.CurrentWriter(t, rc.C.Nodes)
	testcluster.EventuallyWithin(t, 5*time.Second, "only the writer "+w.Name+" labelled true", 20*time.Millisecond, func() error {
		if tr := trues(api, rc.C.Nodes); !(len(tr) == 1 && tr[0] == w.Name) {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	var survivors []*testcluster.Node
	var survivorNames []string
	for _, n := range rc.C.Nodes {
		if n != w {
			survivors = append(survivors, n)
			survivorNames = append(survivorNames, n.Name)
		}
	}

	frozen := time.Now()
	if err := w.FreezeAll(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	defer func() {
		if !thawed {
			_ = w.ThawAll()
		}
	}()
	testcluster.EventuallyWithin(t, 20*time.Second, "the survivors take the frozen "+w.Name+" out: condition False, Ready False, label false", 20*time.Millisecond, func() error {
		// The frozen member sets nothing: what is set after the freeze
		// is the survivors' doing (its own Ready was already False:
		// nothing sets it True in the lab, there is no kubelet).
		c, cAt := api.Condition(w.Name)
		_, ready := api.SetSince(w.Name, true, "False", frozen)
		l, lAt := api.Label(w.Name)
		if c != "False" || cAt.Before(frozen) || !ready || l != "false" || lAt.Before(frozen) {
			return fmt.Errorf("condition %q, Ready False set since the freeze %v, label %q", c, ready, l)
		}
		return nil
	})
	_, condAt := api.Condition(w.Name)
	_, labelAt := api.Label(w.Name)
	testcluster.EventuallyWithin(t, 10*time.Second, "one survivor labelled the writer", 20*time.Millisecond, func() error {
		if tr := trues(api, survivors); len(tr) != 1 {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	next := trues(api, survivors)[0]
	_, nextAt := api.Label(next)
	t.Logf("writer %s frozen: its condition False after %v, its label false after %v (set by the survivors); %s labelled the writer after %v",
		w.Name, condAt.Sub(frozen).Round(time.Millisecond), labelAt.Sub(frozen).Round(time.Millisecond), next, nextAt.Sub(frozen).Round(time.Millisecond))
	// Galera drops a silent member after evs.suspect_timeout (3 s here);
	// the survivors act within a few seconds of the new view.
	if d := condAt.Sub(frozen); d > 3*time.Second+6*time.Second {
		t.Errorf("the frozen member's condition went False %v after the freeze, want within evs.suspect_timeout + 6s", d)
	}
	taken := 0
	for _, n := range survivors {
		taken += int(metricValue(t, n, `galera_sentinel_kube_departed_pods_total{result="taken-out"}`))
		if testsentinel.CountLogs(n, "took the pod of a member that left the Primary component out of the Services") > 0 && !journalHas(t, n, "member", w.Name+" left the Primary component") {
			t.Errorf("%s took %s out but its journal does not say so", n.Name, w.Name)
		}
	}
	if taken < 1 {
		t.Errorf("no survivor counted the pod it took out")
	}
	if most, two := mostTrue(api, frozen, survivorNames...); most > 1 {
		t.Errorf("two survivors labelled the writer at once for %v", two)
	}
	if tr := trues(api, rc.C.Nodes); len(tr) != 1 || tr[0] != next {
		t.Errorf("labelled true: %v, want only %s", tr, next)
	}

	// Thawed: the member comes back into the component and sets its own
	// condition True again; still one writer. Frozen long enough for its
	// sentinel to tell it did not run (an interval, a poll's timeout and
	// 5 s): a node lost for real is lost longer.
	time.Sleep(time.Until(frozen.Add(15 * time.Second)))
	back := time.Now()
	if err := w.ThawAll(); err != nil {
		t.Fatal(err)
	}
	thawed = true
	rc.WaitSynced(ctx, 3)
	testcluster.EventuallyWithin(t, 30*time.Second, w.Name+" sets its own condition True again", 50*time.Millisecond, func() error {
		if v, at := api.Condition(w.Name); v != "True" || at.Before(back) {
			return fmt.Errorf("condition %q", v)
		}
		return nil
	})
	_, trueAt := api.Condition(w.Name)
	t.Logf("%s thawed: its condition True again after %v", w.Name, trueAt.Sub(back).Round(time.Millisecond))
	// Right after the thaw its mariadbd still says what it knew before
	// (Primary, Synced); its sentinel saw that it did not run and holds
	// for readiness.DefaultResumeSettle (10 s).
	if d := trueAt.Sub(back); d < 9*time.Second {
		t.Errorf("%s set its condition True %v after the thaw: before its cluster state could settle (10 s)", w.Name, d)
	}
	cw := testsentinel.CurrentWriter(t, rc.C.Nodes)
	testcluster.EventuallyWithin(t, 15*time.Second, "one writer labelled, /writerz's", 50*time.Millisecond, func() error {
		if tr := trues(api, rc.C.Nodes); len(tr) != 1 || tr[0] != cw.Name {
			return fmt.Errorf("labelled true: %v, /writerz %s", tr, cw.Name)
		}
		return nil
	})
	if len(api.Refused()) > 0 {
		t.Errorf("the API server refused calls: %q", api.Refused())
	}
	stopped := time.Now()
	rc.StopAll(ctx)
	for _, n := range names {
		if v, _ := api.Condition(n); v != "False" {
			t.Errorf("%s: condition %q after the stop, want False", n, v)
		}
		// Its own Ready too, with the gate: every Service reads Ready,
		// and the kubelet would compute it only at its next sync.
		if _, ok := api.SetSince(n, true, "False", stopped); !ok {
			t.Errorf("%s: Ready not set False when it stopped, want it set by its own sentinel with its condition", n)
		}
	}
}

// metricValue is one series' value on the node's /metrics (0 when absent).
func metricValue(t *testing.T, n *testcluster.Node, series string) float64 {
	t.Helper()
	code, body, err := testsentinel.TryProbe("http://" + n.SentinelAddr() + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("%s /metrics: %d %v", n.Name, code, err)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q", n.Name, line)
			}
			return f
		}
	}
	return 0
}

// journalHas: the node's journal (/api/v1/events) holds an event of kind
// whose reason contains want.
func journalHas(t *testing.T, n *testcluster.Node, kind, want string) bool {
	t.Helper()
	var evs []struct {
		Kind, Reason string
	}
	code, body, err := testsentinel.TryProbe("http://" + n.SentinelAddr() + "/api/v1/events")
	if err != nil || code != 200 {
		t.Fatalf("%s events: %d %v", n.Name, code, err)
	}
	if err := json.Unmarshal([]byte(body), &evs); err != nil {
		t.Fatalf("%s events: %v", n.Name, err)
	}
	for _, e := range evs {
		if e.Kind == kind && strings.Contains(e.Reason, want) {
			return true
		}
	}
	return false
}

// TestKubeAPICut: three members, each with a service account token of
// its own; the writer's calls to the API server are then held unanswered,
// as from a node cut off from the control plane but not from its peers.
// Galera sees nothing: the writer stays Primary and ready. After 10 s of
// failed tries its sentinel says so to its peers, and the writer moves: a
// member that reaches the API server labels itself, sets the cut-off
// member's label false for it, and journals it; the cut-off member's
// /writerz answers 404. Only one member is labelled true at any moment
// after the move. When the cut ends the writer goes back to it.
func TestKubeAPICut(t *testing.T) {
	api := kubetest.Start(t, kubeNS, kubeToken)
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3})
	root := filepath.Dir(rc.C.Nodes[0].Dir)
	host, port := api.HostPort()
	t.Setenv("KUBERNETES_SERVICE_HOST", host)
	t.Setenv("KUBERNETES_SERVICE_PORT", port)
	t.Setenv("GALERA_SENTINEL_KUBE_WRITER_LABEL", "true")
	t.Setenv("GALERA_SENTINEL_KUBE_PRIMARY_CONDITION", "true")
	rc.WithFlags(func(n *testcluster.Node) []string {
		sa := api.ServiceAccountDirFor(t, filepath.Join(root, "sa-"+n.Name), "token-"+n.Name)
		return []string{"--kube-pod-name=" + n.Name, "--kube-service-account-dir=" + sa}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	defer func() {
		if t.Failed() {
			t.Logf("marks:\n%s", api)
		}
	}()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	w := testsentinel.CurrentWriter(t, rc.C.Nodes)
	testcluster.EventuallyWithin(t, 10*time.Second, "only the writer "+w.Name+" labelled true", 20*time.Millisecond, func() error {
		if tr := trues(api, rc.C.Nodes); !(len(tr) == 1 && tr[0] == w.Name) {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	var others []*testcluster.Node
	for _, n := range rc.C.Nodes {
		if n != w {
			others = append(others, n)
		}
	}

	cut := time.Now()
	api.Cut("token-"+w.Name, true)
	uncut := false
	defer func() {
		if !uncut {
			api.Cut("token-"+w.Name, false)
		}
	}()
	testcluster.EventuallyWithin(t, 30*time.Second, "another member labelled the writer, "+w.Name+"'s label false", 50*time.Millisecond, func() error {
		tr := trues(api, rc.C.Nodes)
		if len(tr) != 1 || tr[0] == w.Name {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	moved := time.Since(cut)
	next := trues(api, rc.C.Nodes)[0]
	_, offAt := api.Label(w.Name)
	t.Logf("%s cut off from the API server: %s labelled the writer after %v, %s's label false after %v (set by another member)",
		w.Name, next, moved.Round(time.Millisecond), w.Name, offAt.Sub(cut).Round(time.Millisecond))
	// 10 s of failed tries, then a writer-view round and the patches.
	if moved < 9*time.Second || moved > 20*time.Second {
		t.Errorf("the writer moved %v after the cut, want after 10 s of failed tries and within 20 s", moved)
	}
	time.Sleep(12 * time.Second) // the label is set again every 10 s: still one
	// Past the writer handover (5 s), the cut-off member no longer
	// answers 200 on /writerz; it is still ready.
	if code, _, err := testsentinel.TryProbe("http://" + w.SentinelAddr() + "/writerz"); err != nil || code == 200 {
		t.Errorf("%s's /writerz while cut off: %d (%v), want not 200", w.Name, code, err)
	}
	if code, _, err := testsentinel.TryProbe("http://" + w.SentinelAddr() + "/readyz"); err != nil || code != 200 {
		t.Errorf("%s's /readyz while cut off: %d (%v), want 200: Galera has it in the component", w.Name, code, err)
	}
	if tr := trues(api, rc.C.Nodes); len(tr) != 1 || tr[0] != next {
		t.Errorf("labelled true while %s is cut off: %v, want %s alone", w.Name, tr, next)
	}
	if most, two := mostTrue(api, cut.Add(moved), names(rc.C.Nodes)...); most > 1 {
		t.Errorf("two members labelled true at once after the move, for %v", two)
	}
	told := false
	for _, n := range others {
		if journalHas(t, n, "member", w.Name+" cannot reach the Kubernetes API server") {
			told = true
		}
	}
	if !told {
		t.Errorf("no member journaled taking %s's label off", w.Name)
	}

	back := time.Now()
	api.Cut("token-"+w.Name, false)
	uncut = true
	testcluster.EventuallyWithin(t, 30*time.Second, "the writer back on "+w.Name, 50*time.Millisecond, func() error {
		if tr := trues(api, rc.C.Nodes); len(tr) != 1 || tr[0] != w.Name {
			return fmt.Errorf("labelled true: %v", tr)
		}
		return nil
	})
	t.Logf("cut ended: the writer back on %s after %v", w.Name, time.Since(back).Round(time.Millisecond))
	if len(api.Refused()) > 0 {
		t.Errorf("the API server refused calls: %q", api.Refused())
	}
}

func names(nodes []*testcluster.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}
