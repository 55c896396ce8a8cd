package testsentinel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pkg is the import path of the binary; `go build` finds it from any test
// package's directory inside the module.
const pkg = "github.com/galera-sentinel/galera-sentinel/cmd/galera-sentinel"

var build = sync.OnceValues(func() (string, error) {
	// Not under a 0700 t.TempDir: mariadbd's user runs the notifier and
	// the sentinel as root drops to it, so the directory must be
	// traversable.
	dir, err := os.MkdirTemp("", "galera-sentinel-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "galera-sentinel")
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// Build builds the binary on first use and returns its path.
func Build() (string, error) { return build() }

// Binary is the galera-sentinel binary built from this tree, once per test
// binary; it fails t if the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main runs the tests and removes the built binary; a package's TestMain
// calls it.
func Main(m *testing.M) {
	code := m.Run()
	if bin, err := build(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// Command runs the binary once with args (a client subcommand such as
// status, events or force-bootstrap) and extra environment variables
// (KEY=value), and returns its standard output and error. A non-zero exit
// is an *exec.ExitError in err; ExitCode reads its code.
func Command(ctx context.Context, t testing.TB, args []string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// ExitCode is the exit code in an error of Command: 0 for nil, -1 when the
// process did not exit by itself.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}
