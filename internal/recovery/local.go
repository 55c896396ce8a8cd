// Package recovery decides how run mode starts its node: it reads the
// node's own position, asks every peer for theirs, and re-runs the pure
// decision (galera.Decide) until it says to act.
//
// It must not start mariadbd for anything but what it is handed (the
// Recoverer), serve HTTP, or make the decision itself: the rules are
// galera.Decide's.
package recovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	dd "github.com/galera-sentinel/galera-sentinel/internal/datadir"
	"github.com/galera-sentinel/galera-sentinel/internal/galera"
)

// Files Galera keeps in the data directory.
const (
	GrastateFile = "grastate.dat"
	GvwstateFile = "gvwstate.dat"
)

// ownFile is a file of Galera run mode's own that does not make a data
// directory "not empty" (besides datadir.Ignored's): the saved view and
// its temporary copies.
func ownFile(name string) bool {
	return name == ViewFile || strings.HasPrefix(name, "."+ViewFile+".")
}

// Files that only the receiving side of a state transfer in progress
// leaves behind. A joiner killed (or whose donor died) in the middle of
// one keeps them, with nothing trustworthy beside them. (wsrep_sst.pid is
// not one: a donor killed mid-transfer leaves it too, with its data
// intact.)
var sstMarkers = []string{"sst_in_progress", "rsync_sst.pid"}

// GcacheFile is Galera's write-set cache.
const GcacheFile = "galera.cache"

// systemSchemas are the databases an installation creates
// (mariadb-install-db, a distribution package, an image entrypoint).
var systemSchemas = map[string]bool{"mysql": true, "performance_schema": true, "sys": true}

func firstExisting(dir string, names ...string) string {
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return n
		}
	}
	return ""
}

// classifyData tells a data directory without a Galera position that only
// an installation filled (Fresh: as good as empty) from one with data of
// its own, by its databases: a user database is a directory beside the
// system ones. An empty "test" database (mariadb-install-db makes one
// unless --skip-test-db, holding only its db.opt) counts as the
// installation's.
func classifyData(datadir string, m *galera.Member, why string) how {
	ents, err := os.ReadDir(datadir)
	if err != nil {
		return said(why + ": data of its own (unreadable: " + err.Error() + ")")
	}
	var user []string
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || dd.Ignored(name) || ownFile(name) || systemSchemas[name] || strings.HasPrefix(name, "#") || strings.HasPrefix(name, ".") {
			continue
		}
		if name == "test" {
			if emptyDatabase(filepath.Join(datadir, name)) {
				continue
			}
		}
		user = append(user, name)
	}
	if len(user) == 0 {
		m.Fresh = true
		return said(why + ": only an installation's system schemas, as good as empty")
	}
	return said(why + ": data of its own (" + strings.Join(user, ", ") + ")")
}

// emptyDatabase reports whether a database directory holds no table:
// nothing, or only its db.opt (its default character set).
func emptyDatabase(dir string) bool {
	inner, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range inner {
		if e.Name() != "db.opt" {
			return false
		}
	}
	return true
}

// ErrRecover marks a failure of mariadbd --wsrep-recover itself (it did
// not run to the end): unlike a grastate.dat that cannot be believed, it
// may pass on a later try (a data directory still locked by a mariadbd
// that is shutting down).
var ErrRecover = errors.New("mariadbd --wsrep-recover failed")

// Local is this node's position as ReadLocal found it.
type Local struct {
	galera.Member
	// How says where the position came from, for the log.
	How string
	// Recovered is set when the position came from mariadbd
	// --wsrep-recover: grastate.dat still says seqno -1, so mariadbd must
	// be told the position when it starts (--wsrep-start-position).
	Recovered bool
}

// Recoverer runs mariadbd --wsrep-recover and returns what it logged.
type Recoverer func(ctx context.Context) ([]byte, error)

// ReadLocal reads this node's position from its data directory. When
// grastate.dat says the seqno is unknown (-1: the node crashed, or was
// killed while running), recover asks mariadbd for the position it has
// committed. A grastate.dat that cannot be read with certainty is an
// error: nothing may be decided from a guess.
func ReadLocal(ctx context.Context, name, datadir string, recover Recoverer) (Local, error) {
	m, how, err := readLocal(ctx, name, datadir, recover)
	if err != nil {
		return Local{Member: m}, err
	}
	return Local{Member: m, How: how.text, Recovered: how.recovered}, nil
}

// how says where a position came from.
type how struct {
	text      string
	recovered bool // from mariadbd --wsrep-recover
}

func said(text string) how { return how{text: text} }

func readLocal(ctx context.Context, name, datadir string, recover Recoverer) (galera.Member, how, error) {
	m := galera.Member{Name: name}
	ents, err := os.ReadDir(datadir)
	if errors.Is(err, fs.ErrNotExist) {
		m.Empty, m.PositionKnown = true, true
		return m, said("data directory does not exist yet: empty"), nil
	}
	if err != nil {
		return m, how{}, fmt.Errorf("data directory: %w", err)
	}
	if m.LastView, err = ReadLastView(datadir); err != nil {
		return m, how{}, err
	}
	empty := true
	for _, e := range ents {
		if !dd.Ignored(e.Name()) && !ownFile(e.Name()) {
			empty = false
			break
		}
	}
	if empty {
		m.Empty, m.PositionKnown = true, true
		return m, said("data directory is empty"), nil
	}
	if marker := firstExisting(datadir, sstMarkers...); marker != "" {
		m.NeedsSST, m.PositionKnown = true, true
		return m, said("an interrupted state transfer left " + marker + ": this member joins by a full state transfer and is never a bootstrap candidate"), nil
	}
	if _, err := os.Stat(filepath.Join(datadir, GvwstateFile)); err == nil {
		m.SavedView = true
	}
	path := filepath.Join(datadir, GrastateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if cache := firstExisting(datadir, GcacheFile); cache != "" {
			// Galera ran here, and grastate.dat is gone: rsync SST
			// removes it first and writes it last.
			m.NeedsSST, m.PositionKnown = true, true
			return m, said("galera.cache but no grastate.dat: an interrupted state transfer; this member joins by a full state transfer"), nil
		}
		m.PositionKnown = true
		m.Position = galera.Position{UUID: galera.ZeroUUID, Seqno: -1}
		return m, classifyData(datadir, &m, "no grastate.dat"), nil
	}
	if err != nil {
		return m, how{}, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		m.NeedsSST, m.PositionKnown = true, true
		return m, said("grastate.dat is empty: an interrupted state transfer; this member joins by a full state transfer"), nil
	}
	g, err := galera.ParseGrastate(b)
	if err != nil {
		return m, how{}, fmt.Errorf("%s: %w", path, err)
	}
	m.SafeToBootstrap = g.SafeToBootstrap
	m.Position = galera.Position{UUID: g.UUID, Seqno: g.Seqno}
	if g.Seqno >= 0 {
		m.PositionKnown = true
		return m, said("position from grastate.dat: " + m.Position.String()), nil
	}
	// seqno -1: the node crashed or was killed while running. The UUID
	// may be zero too (Galera 4 writes that while it runs after some
	// recoveries), so the data itself is the only witness: ask InnoDB.
	log, err := recover(ctx)
	if err != nil {
		return m, how{}, fmt.Errorf("grastate.dat has seqno -1 and %w: %w", ErrRecover, err)
	}
	p, err := galera.ParseRecoveredPosition(log)
	if err != nil {
		return m, how{}, err
	}
	uuid := g.UUID
	switch {
	case p.UUID == galera.ZeroUUID:
		// InnoDB holds no Galera position either.
	case !g.HasState():
		uuid = p.UUID
	case p.UUID != g.UUID:
		return m, how{}, fmt.Errorf("mariadbd --wsrep-recover found position %s, but grastate.dat names cluster %s", p, g.UUID)
	}
	m.Position = galera.Position{UUID: uuid, Seqno: p.Seqno}
	m.PositionKnown = true
	if !m.HasPosition() {
		h := classifyData(datadir, &m, "grastate.dat has seqno -1 and InnoDB holds no Galera position")
		h.recovered = true
		return m, h, nil
	}
	return m, how{text: "grastate.dat has seqno -1; recovered position " + m.Position.String(), recovered: true}, nil
}

// SetSafeToBootstrap marks grastate.dat safe to bootstrap from, as Galera
// requires before --wsrep-new-cluster. The file is replaced atomically and
// keeps its owner and mode.
func SetSafeToBootstrap(datadir string) error {
	path := filepath.Join(datadir, GrastateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no state yet: nothing for Galera to refuse
	}
	if err != nil {
		return err
	}
	out, err := galera.SetSafeToBootstrap(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".sentinel-tmp"
	if err := os.WriteFile(tmp, out, st.Mode().Perm()); err != nil {
		return err
	}
	if sys, ok := statOwner(st); ok {
		_ = os.Lchown(tmp, sys.uid, sys.gid)
	}
	f, err := os.Open(tmp)
	if err == nil {
		_ = f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
