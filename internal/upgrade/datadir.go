package upgrade

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/galera-sentinel/galera-sentinel/internal/datadir"
)

// MarkerFile is mariadb-upgrade's marker: the version it last brought
// the system tables to. It alone cannot be believed: a state transfer
// does not carry it (top-level files stay behind), mariadb-upgrade
// --check-if-upgrade-is-needed writes an empty one, and mariadb-install-db
// writes one for tables it created itself.
const MarkerFile = "mysql_upgrade_info"

// redoLog is InnoDB's redo log; from MariaDB 10.8 its header names the
// server that created it ("MariaDB 10.11.19" at offset 16).
const redoLog = "ib_logfile0"

// Witness is one source of the version that wrote a data directory.
type Witness struct {
	// Source names it for people: "the sentinel's record",
	// "mysql_upgrade_info", "the redo log".
	Source  string
	Version Version
}

// Data is what a data directory says of the versions that wrote it.
type Data struct {
	// Newest is the newest version any witness names: the data was
	// written by at least that version (zero: no witness).
	Newest Version
	// Witnesses are the sources that named a version.
	Witnesses []Witness
	// Marker is the version mariadb-upgrade last brought the system
	// tables to (zero: no marker, or an empty or unreadable one).
	Marker Version
	// Record is the version the sentinel last saw Synced on it.
	Record Version
	// Problems are sources that exist and could not be read; they are
	// told, not fatal.
	Problems []string
}

// String says it for the log: "10.11.19 (mysql_upgrade_info 10.11.19,
// the redo log 10.11.19)".
func (d Data) String() string {
	if d.Newest.IsZero() {
		return "unknown"
	}
	var parts []string
	for _, w := range d.Witnesses {
		parts = append(parts, w.Source+" "+w.Version.String())
	}
	return d.Newest.String() + " (" + strings.Join(parts, ", ") + ")"
}

// ReadData reads the witnesses of a data directory: the sentinel's record
// (datadir.VersionFile), mariadb-upgrade's marker and the redo log's
// creator. A data directory that does not exist says nothing.
func ReadData(dir string) Data {
	var d Data
	add := func(source string, v Version) {
		if v.IsZero() {
			return
		}
		d.Witnesses = append(d.Witnesses, Witness{source, v})
		if v.Compare(d.Newest) > 0 {
			d.Newest = v
		}
	}
	read := func(name string, limit int64) ([]byte, bool) {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false
		}
		if err != nil {
			d.Problems = append(d.Problems, name+": "+err.Error())
			return nil, false
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, limit))
		if err != nil {
			d.Problems = append(d.Problems, name+": "+err.Error())
			return nil, false
		}
		return b, true
	}
	if b, ok := read(datadir.VersionFile, 256); ok {
		v, err := Parse(string(b))
		if err != nil {
			d.Problems = append(d.Problems, datadir.VersionFile+": "+err.Error())
		}
		d.Record = v
		add("the sentinel's record", v)
	}
	if b, ok := read(MarkerFile, 256); ok && len(bytes.TrimSpace(b)) > 0 {
		v, err := Parse(string(b))
		if err != nil {
			d.Problems = append(d.Problems, MarkerFile+": "+err.Error())
		}
		d.Marker = v
		add(MarkerFile, v)
	}
	if b, ok := read(redoLog, 64); ok && len(b) >= 48 && string(b[:4]) == "Phys" {
		creator := string(bytes.TrimRight(b[16:48], "\x00"))
		if strings.HasPrefix(creator, "MariaDB ") {
			if v, err := Parse(creator); err == nil {
				add("the redo log", v)
			}
		}
	}
	return d
}

// WriteRecord records v as the version that last ran on dir, atomically
// (a crash leaves the old record or the new one).
func WriteRecord(dir string, v Version) error {
	if v.IsZero() {
		return errors.New("no version to record")
	}
	tmp := filepath.Join(dir, datadir.VersionFile+".tmp")
	if err := os.WriteFile(tmp, []byte(v.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("record the version: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, datadir.VersionFile)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("record the version: %w", err)
	}
	return nil
}
