package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/galeramember"
	"github.com/galera-sentinel/galera-sentinel/internal/readiness"
)

// TestStallTimeoutFlag: --stall-timeout defaults to 10m, comes from the
// environment too, 0 turns the rule and the progress tracking off, and a
// negative value is refused with the flag's name.
func TestStallTimeoutFlag(t *testing.T) {
	args := func(extra ...string) []string {
		return append(append([]string{"--expected-size=3", "--peers=a:9200,b:9200,c:9200", "--node-name=a"}, extra...), "--", "mariadbd")
	}
	noEnv := func(k string) string {
		if k == tokenEnv {
			return "stall-flag-test-token-0123456789"
		}
		return ""
	}
	cfg, err := parseRun(args(), noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g := galeraOf(t, cfg)
	if g.StallTimeout != 10*time.Minute || g.Judge(readiness.Limits{}).Limits.StallTimeout != 10*time.Minute || !g.PollerConfig(cfg.poller(nil, nil)).TrackProgress {
		t.Errorf("default: %s, judge %s, tracking %v", g.StallTimeout, g.Judge(readiness.Limits{}).Limits.StallTimeout, g.PollerConfig(cfg.poller(nil, nil)).TrackProgress)
	}
	cfg, err = parseRun(args(), func(k string) string {
		if k == "GALERA_SENTINEL_STALL_TIMEOUT" {
			return "30s"
		}
		return noEnv(k)
	}, io.Discard)
	if err != nil || galeraOf(t, cfg).StallTimeout != 30*time.Second {
		t.Errorf("from the environment: %v, %v", cfg, err)
	}
	cfg, err = parseRun(args("--stall-timeout=0"), noEnv, io.Discard)
	if err != nil || galeraOf(t, cfg).Judge(readiness.Limits{}).Limits.StallTimeout != 0 || galeraOf(t, cfg).PollerConfig(cfg.poller(nil, nil)).TrackProgress {
		t.Errorf("0: %v", err)
	}
	if _, err := parseRun(args("--stall-timeout=-1s"), noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "--stall-timeout=-1s: must not be negative") {
		t.Errorf("negative: %v", err)
	}
}

// galeraOf is the Galera mode of a parsed run configuration, its flags
// set.
func galeraOf(t *testing.T, cfg *RunConfig) *galeramember.Mode {
	t.Helper()
	g, ok := cfg.mode().(*galeramember.Mode)
	if !ok {
		t.Fatalf("mode %q is not Galera's", cfg.Mode)
	}
	return g
}

// TestServeStallRule: serve has no stall rule, whatever the mode's
// defaults: it does not run mariadbd.
func TestServeStallRule(t *testing.T) {
	cfg, err := parseServe(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.mode().(*galeramember.Mode)
	if g.Judge(readiness.Limits{}).Limits.StallTimeout != 0 || g.PollerConfig(cfg.poller(nil, nil)).TrackProgress {
		t.Errorf("serve judges stalls: %+v", g.Judge(readiness.Limits{}).Limits)
	}
}
