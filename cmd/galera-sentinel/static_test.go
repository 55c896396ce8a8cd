package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDistBinariesAreStatic builds the release binaries with `make dist`, as
// a release would, and checks each one the way `objdump -x` would: ELF for
// the right machine, no PT_INTERP program header (no dynamic loader), no
// DT_NEEDED entry (no shared library). Switching cgo on makes it fail.
func TestDistBinariesAreStatic(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("make is not installed")
		}
		t.Skip("make is not installed")
	}
	if testing.Short() {
		t.Skip("builds three binaries; skipped with -short")
	}
	dist := t.TempDir()
	cmd := exec.Command("make", "-C", "../..", "dist", "DISTDIR="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	want := map[string]elf.Machine{
		"galera-sentinel-linux-amd64": elf.EM_X86_64,
		"galera-sentinel-linux-arm64": elf.EM_AARCH64,
		"galera-sentinel-linux-386":   elf.EM_386,
	}
	for name, machine := range want {
		t.Run(name, func(t *testing.T) {
			f, err := elf.Open(filepath.Join(dist, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != machine {
				t.Errorf("machine %v, want %v", f.Machine, machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("has a PT_INTERP program header: needs a dynamic loader")
				}
			}
			libs, err := f.ImportedLibraries() // the DT_NEEDED entries
			if err != nil {
				t.Fatal(err)
			}
			if len(libs) > 0 {
				t.Errorf("needs shared libraries %v", libs)
			}
		})
	}
}
