package recovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// ViewFile is where the sentinel saves the last Primary component its
// member was part of (galera.LastView), in the data directory, so that it
// survives with the data it describes. It does not make a data directory
// count as holding data.
const ViewFile = "galera-sentinel-view.json"

// ReadLastView reads the saved view of datadir: nil without an error when
// none was saved. A file that is not a view is an error naming it:
// deciding who must answer from a guess could bootstrap without a member
// that holds the last commits.
func ReadLastView(datadir string) (*galera.LastView, error) {
	path := filepath.Join(datadir, ViewFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("saved view: %w", err)
	}
	v, err := galera.ParseLastView(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (it names the members of the last Primary component; delete it only if you know every member that could hold the last commits is present)", path, err)
	}
	return &v, nil
}

// SaveLastView replaces the saved view of datadir atomically (a new file
// renamed over the old one, synced first), so a crash leaves the old view
// or the new one, never a torn file.
func SaveLastView(datadir string, v galera.LastView) error {
	if err := v.Validate(); err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(datadir, "."+ViewFile+".*")
	if err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename: nothing to remove
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save view: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save view: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(datadir, ViewFile)); err != nil {
		return fmt.Errorf("save view: %w", err)
	}
	if d, err := os.Open(datadir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
