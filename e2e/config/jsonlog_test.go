package config

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// TestRunJSONLog: with mariadbd logging to stderr, as in a container, the
// sentinel's JSON log stays one JSON record per line while one member
// bootstraps, another joins by state transfer and both stop: mariadbd's
// lines (and its SST script's) are records with component=mariadbd.
func TestRunJSONLog(t *testing.T) {
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 2})
	logError := regexp.MustCompile(`(?m)^log-error=.*\n`)
	for _, n := range rc.C.Nodes {
		b, err := os.ReadFile(n.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(n.ConfigFile, logError.ReplaceAll(b, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range rc.C.Nodes {
		rc.Start(n, "--log-format=json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc.WaitSynced(ctx, 2)
	rc.StopAll(ctx)

	for _, n := range rc.C.Nodes {
		f, err := os.Open(n.SentinelLog())
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		lines, fromMariadbd := 0, 0
		for sc.Scan() {
			lines++
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("%s: line %d is not JSON: %q", n.Name, lines, sc.Text())
				continue
			}
			if rec["component"] == "mariadbd" && rec["stream"] == "output" {
				fromMariadbd++
			}
		}
		f.Close()
		t.Logf("%s: %d lines, %d of them mariadbd's output", n.Name, lines, fromMariadbd)
		if fromMariadbd < 10 {
			t.Errorf("%s: only %d records of mariadbd's output: its log did not come through", n.Name, fromMariadbd)
		}
	}
}
