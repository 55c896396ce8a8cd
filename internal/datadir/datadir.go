// Package datadir holds the one rule every mode follows about a data
// directory: which entries do not make it "not empty" and are never
// removed when a broken-off initialisation or clone is cleaned up (a
// fresh filesystem's lost+found and the sentinel's own event journal).
//
// It must not decide what a non-empty directory means (a Galera position,
// a replica's data): that is each mode's domain package.
package datadir

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/galera-sentinel/galera-sentinel/internal/journal"
)

// Ignored reports whether an entry of a data directory is one that never
// makes it "not empty" and is never removed by Clean: a volume's
// lost+found, the journal, which the sentinel writes there from its
// first moment, and the sentinel's record of the version that last ran
// on it (VersionFile).
func Ignored(name string) bool {
	return name == "lost+found" || name == journal.FileName || name == journal.RotatedName || name == VersionFile || name == VersionFile+".tmp"
}

// VersionFile is where run mode records the MariaDB version that last ran
// on the data directory and was Synced (package upgrade).
const VersionFile = "galera-sentinel.version"

// Empty reports whether dir holds nothing but Ignored entries and those
// also says to skip (a mode's own files, such as Galera's saved view). A
// directory that does not exist is empty.
func Empty(dir string, also func(name string) bool) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !Ignored(e.Name()) && (also == nil || !also(e.Name())) {
			return false, nil
		}
	}
	return true, nil
}

// Clean removes from dir every entry that is neither Ignored nor in keep
// (what was there before a try began; nil: nothing). It returns the first
// error and goes on past it.
func Clean(dir string, keep map[string]bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var first error
	for _, e := range entries {
		if Ignored(e.Name()) || keep[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil && first == nil {
			first = err
		}
	}
	return first
}
