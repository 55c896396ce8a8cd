package httpserver

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// reloadEvery bounds how often a token file is looked at again on use.
const reloadEvery = time.Second

// Tokens is the set of API tokens a sentinel accepts and sends. It holds
// one token normally and several during a rotation: the server accepts
// any of them, a client sends the first and falls back to the others
// (see peer.Client).
//
// Loaded from a file (LoadTokens), it follows the file: on use, at most
// once every second, the path is stat'ed again (the path, not an open
// file, so that Kubernetes' swap of the ..data symlink of a Secret volume
// is seen) and re-read when its modification time, size or inode changed.
// A file that becomes unreadable or invalid leaves the last good set in
// place, and the error is logged once (the tokens never are).
//
// A nil *Tokens is the empty set: it accepts nothing and sends nothing.
type Tokens struct {
	path   string
	logger *slog.Logger
	now    func() time.Time

	mu        sync.Mutex
	tokens    []string
	hashes    [][sha256.Size]byte
	id        fileID
	lastCheck time.Time
	badLogged string // the error last logged, so that it is logged once
}

// fileID tells one version of a file from another.
type fileID struct {
	mtime time.Time
	size  int64
	ino   uint64
	dev   uint64
}

// ParseTokens reads a token list: one token per line (commas separate
// tokens too, for an environment variable), blank lines and surrounding
// white space ignored. Every token must pass CheckToken; the list must
// not be empty. The error never contains a token.
func ParseTokens(s string) ([]string, error) {
	var out []string
	n := 0
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' }) {
		n++
		tok := strings.TrimSpace(f)
		if tok == "" {
			continue
		}
		if err := CheckToken(tok); err != nil {
			return nil, fmt.Errorf("token %d: %w", len(out)+1, err)
		}
		out = append(out, tok)
	}
	if len(out) == 0 {
		return nil, errors.New("no token in it (one per line, or separated by commas)")
	}
	return out, nil
}

// StaticTokens is a set that never changes (tokens from the environment,
// tests). Empty strings are dropped; with none left it is nil.
func StaticTokens(tokens ...string) *Tokens {
	var keep []string
	for _, t := range tokens {
		if t != "" {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	t := &Tokens{}
	t.set(keep)
	return t
}

// LoadTokens reads the token file at path; later changes to it are
// followed (see Tokens). The first read must succeed.
func LoadTokens(path string, logger *slog.Logger) (*Tokens, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Tokens{path: path, logger: logger, now: time.Now}
	toks, id, err := readTokenFile(path)
	if err != nil {
		return nil, err
	}
	t.set(toks)
	t.id, t.lastCheck = id, t.now()
	return t, nil
}

// SetLogger sets where reload errors go.
func (t *Tokens) SetLogger(l *slog.Logger) {
	if t == nil || l == nil {
		return
	}
	t.mu.Lock()
	t.logger = l
	t.mu.Unlock()
}

func readTokenFile(path string) ([]string, fileID, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("token file: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("token file: %w", err)
	}
	toks, err := ParseTokens(string(b))
	if err != nil {
		return nil, fileID{}, fmt.Errorf("token file %s: %w", path, err)
	}
	return toks, idOf(st), nil
}

func idOf(st os.FileInfo) fileID {
	id := fileID{mtime: st.ModTime(), size: st.Size()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino, id.dev = uint64(s.Ino), uint64(s.Dev)
	}
	return id
}

// set replaces the tokens; t.mu is held or t is not shared yet.
func (t *Tokens) set(toks []string) {
	t.tokens = toks
	t.hashes = make([][sha256.Size]byte, len(toks))
	for i, tok := range toks {
		t.hashes[i] = sha256.Sum256([]byte(tok))
	}
}

// Accept reports whether tok is one of the tokens. It compares in
// constant time against every token, over hashes, so neither which token
// matched nor any token's content or length leaks through timing.
func (t *Tokens) Accept(tok string) bool {
	if t == nil {
		return false
	}
	t.maybeReload()
	got := sha256.Sum256([]byte(tok))
	t.mu.Lock()
	hashes := t.hashes
	t.mu.Unlock()
	ok := 0
	for i := range hashes {
		ok |= subtle.ConstantTimeCompare(got[:], hashes[i][:])
	}
	return ok == 1
}

// Send is the tokens in the order a client tries them: the first is the
// one to present, the others are fallbacks for peers that refuse it.
func (t *Tokens) Send() []string {
	if t == nil {
		return nil
	}
	t.maybeReload()
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.tokens...)
}

// Len is how many tokens the set holds now.
func (t *Tokens) Len() int { return len(t.Send()) }

func (t *Tokens) maybeReload() {
	if t.path == "" {
		return
	}
	t.mu.Lock()
	due := t.now().Sub(t.lastCheck) >= reloadEvery
	t.mu.Unlock()
	if due {
		_ = t.Reload()
	}
}

// Reload looks at the file now and re-reads it when it changed. When the
// new content cannot be used, the last good tokens stay, the error is
// logged once and returned. A set not loaded from a file does nothing.
func (t *Tokens) Reload() error {
	if t == nil || t.path == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastCheck = t.now()
	st, err := os.Stat(t.path)
	if err == nil && idOf(st) == t.id && t.badLogged == "" {
		return nil
	}
	toks, id, err := readTokenFile(t.path)
	if err != nil {
		if msg := err.Error(); msg != t.badLogged {
			t.logger.Error("token file: keeping the tokens read before", "file", t.path, "err", err, "tokens", len(t.tokens))
			t.badLogged = msg
		}
		return err
	}
	if id == t.id && t.badLogged == "" {
		return nil
	}
	changed := !equalStrings(toks, t.tokens)
	t.set(toks)
	t.id, t.badLogged = id, ""
	if changed {
		t.logger.Info("token file reloaded", "file", t.path, "tokens", len(toks))
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
