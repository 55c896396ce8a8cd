package datadir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
)

func TestEmptyAndClean(t *testing.T) {
	dir := t.TempDir()
	if e, err := Empty(filepath.Join(dir, "missing"), nil); err != nil || !e {
		t.Fatalf("missing: %v, %v", e, err)
	}
	for _, name := range []string{"lost+found", journal.FileName, journal.RotatedName} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if e, err := Empty(dir, nil); err != nil || !e {
		t.Fatalf("only ignored entries: %v, %v", e, err)
	}
	for _, name := range []string{"ibdata1", "mode-file", "kept"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if e, err := Empty(dir, nil); err != nil || e {
		t.Fatalf("with ibdata1: %v, %v", e, err)
	}
	if err := Clean(dir, map[string]bool{"kept": true}); err != nil {
		t.Fatal(err)
	}
	if e, err := Empty(dir, func(n string) bool { return strings.HasPrefix(n, "kept") }); err != nil || !e {
		t.Fatalf("after Clean, kept skipped: %v, %v", e, err)
	}
	for _, name := range []string{"lost+found", journal.FileName, journal.RotatedName, "kept"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("Clean removed %s", name)
		}
	}
}
