package testkube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// KubeVersion is the Kubernetes release the suite builds and runs.
const KubeVersion = "1.31.4"

// CacheDir is where built binaries and images are kept between runs
// ($GALERA_KUBE_CACHE overrides it).
func CacheDir() string {
	if d := os.Getenv("GALERA_KUBE_CACHE"); d != "" {
		return d
	}
	return "/var/cache/galera-sentinel-kube"
}

// RepoRoot finds the repository root (the directory with go.mod) from the
// working directory, which for a test is its package directory.
func RepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(d, "go.mod")) && fileExists(filepath.Join(d, "scripts")) {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("repository root not found above the working directory")
		}
		d = p
	}
}

// BuildBinaries runs scripts/kube-binaries.sh (a no-op when the cache is
// complete) and returns the directory of the binaries.
func BuildBinaries(ctx context.Context, logf func(string, ...any)) (string, error) {
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "scripts/kube-binaries.sh"))
	cmd.Env = append(os.Environ(), "KUBE_CACHE="+CacheDir(), "KUBE_VERSION="+KubeVersion)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kube-binaries.sh: %w\n%s", err, tail(errb.String(), 4000))
	}
	if logf != nil {
		logf("testkube: binaries ready in %s", time.Since(t0).Round(time.Second))
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildImage runs scripts/build-image.sh and returns the OCI archive of
// localhost/galera-sentinel-mariadb:TAG.
func BuildImage(ctx context.Context, tag string, logf func(string, ...any)) (string, error) {
	return buildImage(ctx, "mariadb", tag, logf)
}

// BuildTrixieImage builds the same Dockerfile on Debian trixie (MariaDB
// 11.8: SUITE=trixie), tagged "trixie", for the upgrade scenario.
func BuildTrixieImage(ctx context.Context, logf func(string, ...any)) (string, error) {
	return buildImage(ctx, "mariadb", "trixie", logf)
}

// BuildPreviousImage builds the Dockerfile on bookworm with MariaDB
// pinned to the release before the Dockerfile's (build-image.sh
// --previous), tagged "previous": the e2e cluster starts on it, and a
// rolling update to the "test" image is a minor upgrade.
func BuildPreviousImage(ctx context.Context, logf func(string, ...any)) (string, error) {
	return buildImage(ctx, "mariadb", "previous", logf)
}

// BuildHAProxyImage builds scripts/haproxy.Dockerfile the same way
// (build-image.sh --haproxy) and returns the archive's path.
func BuildHAProxyImage(ctx context.Context, tag string, logf func(string, ...any)) (string, error) {
	return buildImage(ctx, "haproxy", tag, logf)
}

func buildImage(ctx context.Context, kind, tag string, logf func(string, ...any)) (string, error) {
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	out := filepath.Join(CacheDir(), "images", "galera-sentinel-"+kind+"-"+tag+".tar")
	t0 := time.Now()
	args := []string{out, tag}
	switch {
	case kind == "haproxy":
		args = append([]string{"--haproxy"}, args...)
	case tag == "previous":
		args = append([]string{"--previous"}, args...)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "scripts/build-image.sh"), args...)
	cmd.Env = append(os.Environ(), "KUBE_CACHE="+CacheDir())
	if tag == "trixie" {
		cmd.Env = append(cmd.Env, "SUITE=trixie")
	}
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build-image.sh: %w\n%s", err, tail(string(b), 4000))
	}
	if logf != nil {
		logf("testkube: image %s:%s built in %s", kind, tag, time.Since(t0).Round(time.Second))
	}
	return out, nil
}

// BuildPause builds the pause image (./internal/testkube/pause, a static
// binary that waits for SIGTERM) with buildah and writes it as an OCI
// archive in the cache. It is rebuilt only when missing.
func BuildPause(ctx context.Context) (string, error) {
	out := filepath.Join(CacheDir(), "images", "pause-1.tar")
	if fileExists(out) {
		return out, nil
	}
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "testkube-pause")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "pause")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./internal/testkube/pause")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build pause: %w: %s", err, b)
	}
	env := append(os.Environ(), "STORAGE_DRIVER=vfs")
	buildah := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "buildah", args...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("buildah %s: %w: %s", strings.Join(args, " "), err, b)
		}
		return strings.TrimSpace(string(b)), nil
	}
	ctr, err := buildah("from", "scratch")
	if err != nil {
		return "", err
	}
	defer buildah("rm", ctr) //nolint:errcheck
	steps := [][]string{
		{"copy", "--chmod", "0755", ctr, bin, "/pause"},
		{"config", "--entrypoint", `["/pause"]`, "--cmd", "", ctr},
		{"commit", ctr, PauseImage},
	}
	for _, s := range steps {
		if _, err := buildah(s...); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	if _, err := buildah("push", PauseImage, "oci-archive:"+out+".tmp:"+PauseImage); err != nil {
		return "", err
	}
	return out, os.Rename(out+".tmp", out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
