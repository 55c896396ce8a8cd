package config

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/galera-sentinel/galera-sentinel/internal/testcluster"
	"github.com/galera-sentinel/galera-sentinel/internal/testsentinel"
)

// artifactsDir is where tests keep what a person should look at
// (screenshots): $GALERA_SENTINEL_ARTIFACTS, or artifacts/ at the top of
// the repository (ignored by git).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("GALERA_SENTINEL_ARTIFACTS")
	if dir == "" {
		dir = "../../artifacts"
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromium loads url in real headless Chromium (Debian's), lets its
// scripts run for a few seconds of virtual time, and returns the DOM as
// rendered and a screenshot saved to png.
func chromium(t *testing.T, bin, url, png string) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--window-size=1280,900", "--virtual-time-budget=8000"}
	run := func(extra ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		a := append(append(append([]string{}, args...), "--user-data-dir="+t.TempDir()), extra...)
		cmd := exec.CommandContext(ctx, bin, append(a, url)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, tailLines(errOut.String(), 20))
		}
		return out.Bytes()
	}
	dom := run("--dump-dom")
	run("--screenshot=" + png)
	return string(dom)
}

// cardVerdicts are the members the rendered page shows, and the verdict
// class each card has (ok, warn, bad).
func cardVerdicts(dom string) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`<article class="card s-(ok|warn|bad)" data-member="([^"]+)" data-verdict="(ok|warn|bad)">`)
	for _, m := range re.FindAllStringSubmatch(dom, -1) {
		out[m[2]] = m[3]
	}
	return out
}

// redPixels counts the pixels of the page's "bad" colour (#f0483e) in a
// screenshot: the red band and state of a member in trouble.
func redPixels(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, 0xf0) && near(g>>8, 0x48) && near(bl>>8, 0x3e) {
				n++
			}
		}
	}
	return n
}

func near(a uint32, b int) bool { return int(a) >= b-6 && int(a) <= b+6 }

// TestClusterPageInChromium: the page at "/" of a run-mode member, in
// real headless Chromium: three members, all ready; then node3 cut off
// by a partition, shown apart (red). The screenshots are kept.
func TestClusterPageInChromium(t *testing.T) {
	bin := testcluster.RequireBinary(t, "chromium")
	rc := testsentinel.NewRunCluster(t, testcluster.Options{Nodes: 3, Netns: true})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rc.StartAll()
	rc.WaitSynced(ctx, 3)
	url := "http://" + rc.C.Nodes[0].SentinelAddr() + "/"
	dir := artifactsDir(t)

	healthyPNG := filepath.Join(dir, "cluster-page-healthy.png")
	dom := chromium(t, bin, url, healthyPNG)
	got := cardVerdicts(dom)
	if len(got) != 3 || got["node1"] != "ok" || got["node2"] != "ok" || got["node3"] != "ok" {
		t.Fatalf("healthy cluster: cards %v\n%s", got, tailLines(dom, 40))
	}
	if !strings.Contains(dom, "3 of 3 members ready") || !strings.Contains(dom, "WRITER") {
		t.Errorf("healthy cluster: no summary or no writer in the page")
	}
	if n := redPixels(t, healthyPNG); n > 50 {
		t.Errorf("the healthy cluster's screenshot has %d red pixels", n)
	}

	n3 := rc.C.Nodes[2]
	if err := n3.Partition(); err != nil {
		t.Fatal(err)
	}
	// node1's view: node3's sentinel does not answer it, and node1's
	// component has two members.
	rc.WaitSynced(ctx, 2, rc.C.Nodes[0], rc.C.Nodes[1])
	partPNG := filepath.Join(dir, "cluster-page-partitioned.png")
	dom = chromium(t, bin, url, partPNG)
	got = cardVerdicts(dom)
	if len(got) != 3 || got["node1"] != "ok" || got["node2"] != "ok" {
		t.Fatalf("partitioned: cards %v\n%s", got, tailLines(dom, 40))
	}
	// node1 cannot reach node3's sentinel: the card is named by its
	// address.
	if v := got["node3"] + got[n3.SentinelAddr()]; v != "bad" {
		t.Errorf("partitioned node3 shown as %q, want bad (cards %v)", v, got)
	}
	if !strings.Contains(dom, "Unhealthy") || !strings.Contains(dom, "2 of 3 members ready") {
		t.Errorf("partitioned: no problem banner or wrong summary")
	}
	red := redPixels(t, partPNG)
	if red < 500 {
		t.Errorf("the partitioned member is not shown in red: %d red pixels", red)
	}
	t.Logf("screenshots: %s (healthy), %s (node3 partitioned, %d red pixels)", healthyPNG, partPNG, red)
}
