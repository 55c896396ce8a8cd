package testkube

import (
	"reflect"
	"testing"
)

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`FORWARD -j GSKUBE-GUARD`, []string{"FORWARD", "-j", "GSKUBE-GUARD"}},
		{`FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`,
			[]string{"FORWARD", "-m", "comment", "--comment", "kubernetes forwarding rules", "-j", "KUBE-FORWARD"}},
		{`X --comment "a \"q\"" -j Y`, []string{"X", "--comment", `a "q"`, "-j", "Y"}},
		{`X --comment "" -j Y`, []string{"X", "--comment", "", "-j", "Y"}},
	} {
		if got := splitRule(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOurs(t *testing.T) {
	for chain, want := range map[string]bool{"KUBE-SERVICES": true, "GSKUBE-GUARD": true, "FORWARD": false, "DOCKER": false, "CNI-FORWARD": false} {
		if ours(chain) != want {
			t.Errorf("ours(%q) = %v", chain, !want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/a\040b`); got != "/a b" {
		t.Errorf("got %q", got)
	}
}
