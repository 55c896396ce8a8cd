package kube_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/kube"
	"github.com/galera-sentinel/galera-sentinel/internal/kube/kubetest"
)

// TestSetPodCondition: the Primary condition alone, then with Ready False
// (a member that left), as one strategic merge patch of pods/status that
// the recording API server accepts; bad input is refused before a call.
func TestSetPodCondition(t *testing.T) {
	api := kubetest.Start(t, "db", "tok-123456")
	host, port := api.HostPort()
	c, err := kube.InCluster(kube.Config{Host: host, Port: port, Dir: api.ServiceAccountDir(t, t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	primary := func(status string) kube.Condition {
		return kube.Condition{Type: kube.PrimaryConditionType, Status: status, Reason: kube.ReasonInPrimary, Message: "m"}
	}
	if err := c.SetPodCondition(ctx, "galera-1", primary("True")); err != nil {
		t.Fatal(err)
	}
	if v, _ := api.Condition("galera-1"); v != "True" {
		t.Fatalf("condition %q", v)
	}
	left := kube.Condition{Type: kube.ReadyConditionType, Status: "False", Reason: kube.ReasonLeft, Message: "left"}
	if err := c.SetPodCondition(ctx, "galera-1", primary("False"), left); err != nil {
		t.Fatal(err)
	}
	if v, _ := api.Condition("galera-1"); v != "False" {
		t.Fatalf("condition %q after the departure", v)
	}
	if v, _ := api.Ready("galera-1"); v != "False" {
		t.Fatalf("Ready %q after the departure", v)
	}
	if len(api.Refused()) > 0 {
		t.Fatalf("refused: %q", api.Refused())
	}
	for _, bad := range [][]kube.Condition{nil, {primary("Unknown")}} {
		if err := c.SetPodCondition(ctx, "galera-1", bad...); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := c.SetPodCondition(ctx, "", primary("True")); err == nil {
		t.Error("no pod name accepted")
	}
}

// TestStatusForbidden: a Role without pods/status names what to add.
func TestStatusForbidden(t *testing.T) {
	api := kubetest.Start(t, "db", "tok-123456")
	host, port := api.HostPort()
	c, err := kube.InCluster(kube.Config{Host: host, Port: port, Dir: api.ServiceAccountDir(t, t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	api.Forbid(true)
	err = c.SetPodCondition(context.Background(), "galera-0", kube.Condition{Type: kube.PrimaryConditionType, Status: "True", Reason: "r", Message: "m"})
	for _, want := range []string{"403", "pods/status", "RoleBinding", "cannot patch"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: want it to say %q", err, want)
		}
	}
	if v, _ := api.Condition("galera-0"); v != "" {
		t.Fatalf("a forbidden call was recorded: %q", v)
	}
}

// TestPodGrace: the pod the recording API server returns carries the grace
// period it was given, for the main token and for another accepted one,
// and a Role without "get pods" is refused.
func TestPodGrace(t *testing.T) {
	api := kubetest.Start(t, "db", "tok-123456")
	api.SetGrace(60)
	host, port := api.HostPort()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, dir := range []string{api.ServiceAccountDir(t, t.TempDir()), api.ServiceAccountDirFor(t, t.TempDir(), "tok-other-98765")} {
		c, err := kube.InCluster(kube.Config{Host: host, Port: port, Dir: dir, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Pod(ctx, "galera-1")
		c.Close()
		if err != nil || p.Grace != 60*time.Second || p.Name != "galera-1" {
			t.Errorf("pod %+v, %v", p, err)
		}
	}
	if api.PodGets() != 2 || len(api.Refused()) > 0 {
		t.Errorf("gets %d, refused %q", api.PodGets(), api.Refused())
	}
	api.Forbid(true)
	c, err := kube.InCluster(kube.Config{Host: host, Port: port, Dir: api.ServiceAccountDir(t, t.TempDir()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Pod(ctx, "galera-1"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("a forbidden GET: %v", err)
	}
}
