package kube

import (
	"strings"
	"testing"
	"time"
)

func TestShortGrace(t *testing.T) {
	shipped := Stop{DrainDelay: 5 * time.Second, DrainTimeout: 30 * time.Second, ShutdownTimeout: 5 * time.Minute}
	if why, ok := ShortGrace(420*time.Second, shipped); ok {
		t.Errorf("the shipped 420 s covers a stop of %v: %s", shipped.Total(), why)
	}
	if _, ok := ShortGrace(shipped.Total(), shipped); ok {
		t.Errorf("a grace period equal to the stop is enough")
	}
	why, ok := ShortGrace(30*time.Second, shipped)
	if !ok {
		t.Fatal("Kubernetes' default 30 s does not cover a 5 min shutdown, and was not named")
	}
	for _, w := range []string{"(30s)", "(5m35s:", "--shutdown-timeout 5m0s", "above 5m35s"} {
		if !strings.Contains(why, w) {
			t.Errorf("%q lacks %q", why, w)
		}
	}
}
