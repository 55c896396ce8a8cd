package main

import (
	"os/exec"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
)

// TestHAProxyExampleIsValid: the example users copy must be a config
// HAProxy accepts.
func TestHAProxyExampleIsValid(t *testing.T) {
	bin := testcluster.RequireBinary(t, "haproxy")
	out, err := exec.Command(bin, "-c", "-f", "../../deploy/haproxy/haproxy.cfg").CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}
