package main

import (
	"io"
	"strings"
	"testing"
	"time"
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
	if cfg.StallTimeout != 10*time.Minute || cfg.judge().Limits.StallTimeout != 10*time.Minute || !cfg.poller(nil, nil).TrackProgress {
		t.Errorf("default: %s, judge %s, tracking %v", cfg.StallTimeout, cfg.judge().Limits.StallTimeout, cfg.poller(nil, nil).TrackProgress)
	}
	cfg, err = parseRun(args(), func(k string) string {
		if k == "GALERA_SENTINEL_STALL_TIMEOUT" {
			return "30s"
		}
		return noEnv(k)
	}, io.Discard)
	if err != nil || cfg.StallTimeout != 30*time.Second {
		t.Errorf("from the environment: %v, %v", cfg, err)
	}
	cfg, err = parseRun(args("--stall-timeout=0"), noEnv, io.Discard)
	if err != nil || cfg.judge().Limits.StallTimeout != 0 || cfg.poller(nil, nil).TrackProgress {
		t.Errorf("0: %v", err)
	}
	if _, err := parseRun(args("--stall-timeout=-1s"), noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), "--stall-timeout=-1s: must not be negative") {
		t.Errorf("negative: %v", err)
	}
}
