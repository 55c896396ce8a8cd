package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestHAProxyExampleIsValid: the example users copy must be a config
// HAProxy accepts.
func TestHAProxyExampleIsValid(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy not installed")
		}
		t.Skip("haproxy not installed")
	}
	out, err := exec.Command(bin, "-c", "-f", "../../deploy/haproxy/haproxy.cfg").CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}
