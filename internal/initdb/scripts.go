package initdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Kind is how a file of the initdb directory is applied.
type Kind int

const (
	// SQL is fed to the mariadb client.
	SQL Kind = iota + 1
	// Shell is a script: run if executable, else run with /bin/sh.
	Shell
)

// Script is one file of the initdb directory.
type Script struct {
	Path string
	Kind Kind
	// Decompress is the decompressor's argv for a compressed SQL file
	// (it writes the SQL to stdout), nil for plain SQL.
	Decompress []string
	// Executable: a Shell script with an execute bit, run as it is.
	Executable bool
}

// Classify says how a file name is applied, as the image's
// docker_process_init_files does: *.sh, *.sql, *.sql.gz, *.sql.xz,
// *.sql.zst; ok is false for anything else (ignored).
func Classify(name string) (k Kind, decompress []string, ok bool) {
	switch {
	case strings.HasSuffix(name, ".sh"):
		return Shell, nil, true
	case strings.HasSuffix(name, ".sql"):
		return SQL, nil, true
	case strings.HasSuffix(name, ".sql.gz"):
		return SQL, []string{"gzip", "-dc"}, true
	case strings.HasSuffix(name, ".sql.xz"):
		return SQL, []string{"xz", "-dc"}, true
	case strings.HasSuffix(name, ".sql.zst"):
		return SQL, []string{"zstd", "-dc"}, true
	}
	return 0, nil, false
}

// List returns the scripts of dir in lexical order, and the names it
// ignores. A missing dir is no scripts. Names that begin with a dot are
// skipped: a Kubernetes ConfigMap volume keeps its real files in ..data
// and ..<timestamp> directories and shows them as symbolic links, which
// are followed.
func List(dir string) (scripts []Script, ignored []string, err error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("initdb directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("initdb directory: %w", err)
		}
		k, dec, ok := Classify(name)
		if !ok || !st.Mode().IsRegular() {
			ignored = append(ignored, name)
			continue
		}
		scripts = append(scripts, Script{Path: p, Kind: k, Decompress: dec, Executable: k == Shell && st.Mode()&0o111 != 0})
	}
	return scripts, ignored, nil
}
