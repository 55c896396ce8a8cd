package httpserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	tokA = "token-A-0123456789abcdef"
	tokB = "token-B-0123456789abcdef"
)

func TestParseTokens(t *testing.T) {
	got, err := ParseTokens("\n  " + tokB + "  \r\n\n" + tokA + "\n")
	if err != nil || len(got) != 2 || got[0] != tokB || got[1] != tokA {
		t.Fatalf("ParseTokens = %q, %v; want [B A]", got, err)
	}
	got, err = ParseTokens(tokB + "," + tokA)
	if err != nil || len(got) != 2 || got[0] != tokB {
		t.Fatalf("comma-separated: %q, %v", got, err)
	}
	for _, bad := range []string{"", " \n\n ", tokA + "\nshort", tokA + "\nhas a space in it 0123"} {
		if _, err := ParseTokens(bad); err == nil {
			t.Errorf("ParseTokens(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "short") || strings.Contains(err.Error(), tokA) {
			t.Errorf("error shows a token: %v", err)
		}
	}
}

func TestTokensAcceptAny(t *testing.T) {
	ts := StaticTokens(tokB, tokA)
	if !ts.Accept(tokA) || !ts.Accept(tokB) || ts.Accept("token-C-0123456789abcdef") || ts.Accept("") {
		t.Fatal("Accept: want A and B only")
	}
	if s := ts.Send(); len(s) != 2 || s[0] != tokB {
		t.Fatalf("Send = %q", s)
	}
	var none *Tokens
	if none.Accept(tokA) || none.Send() != nil || StaticTokens("") != nil {
		t.Fatal("the empty set accepts or sends something")
	}
	h := RequireTokens(ts, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for tok, want := range map[string]int{tokA: 200, tokB: 200, "token-C-0123456789abcdef": 403, "": 401} {
		r := httptest.NewRequest("GET", "/", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("token %q: HTTP %d, want %d", tok[:min(7, len(tok))], w.Code, want)
		}
	}
}

// writeSecretVolume lays out a directory as kubelet does for a Secret
// volume: dir/token -> ..data/token, ..data -> ..<version>. A new
// version is written to a new directory, a ..data_tmp symlink to it is
// made, and renamed over ..data (one atomic swap).
func writeSecretVolume(t *testing.T, dir, version, content string) {
	t.Helper()
	vdir := filepath.Join(dir, "..ver_"+version)
	if err := os.Mkdir(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vdir, "token"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(vdir), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "token")); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token")); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTokensReloadSecretSwap(t *testing.T) {
	dir := t.TempDir()
	writeSecretVolume(t, dir, "1", tokA+"\n")
	var logs bytes.Buffer
	ts, err := LoadTokens(filepath.Join(dir, "token"), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	ts.now = func() time.Time { return clock }
	if !ts.Accept(tokA) || ts.Accept(tokB) {
		t.Fatal("version 1: want A only")
	}

	// Rotation, step 1: new and old. Same size, same mtime second
	// possible: the inode tells them apart.
	writeSecretVolume(t, dir, "2", tokB+"\n"+tokA+"\n")
	if !ts.Accept(tokA) || ts.Accept(tokB) {
		t.Fatal("looked at the file again before a second passed")
	}
	clock = clock.Add(time.Second)
	if !ts.Accept(tokB) || !ts.Accept(tokA) {
		t.Fatal("version 2 (B, A) not seen after the ..data swap")
	}
	if s := ts.Send(); s[0] != tokB {
		t.Fatalf("Send()[0] is not the new token")
	}

	// A broken version keeps the last good set, logged once.
	writeSecretVolume(t, dir, "3", "too-short\n")
	for range 3 {
		clock = clock.Add(time.Second)
		if !ts.Accept(tokB) || !ts.Accept(tokA) {
			t.Fatal("an invalid file replaced the good set")
		}
	}
	if n := strings.Count(logs.String(), "keeping the tokens read before"); n != 1 {
		t.Fatalf("invalid file logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), tokA) || strings.Contains(logs.String(), tokB) || strings.Contains(logs.String(), "too-short") {
		t.Fatalf("a token is in the log:\n%s", logs.String())
	}

	// Step 3: the new token alone (Reload: at once).
	writeSecretVolume(t, dir, "4", tokB+"\n")
	if err := ts.Reload(); err != nil {
		t.Fatal(err)
	}
	if !ts.Accept(tokB) || ts.Accept(tokA) {
		t.Fatal("version 4: want B only")
	}

	// The file gone: the last good set stays.
	os.Remove(filepath.Join(dir, "token"))
	if err := ts.Reload(); err == nil || !ts.Accept(tokB) {
		t.Fatalf("a missing file: %v, B accepted %v", err, ts.Accept(tokB))
	}
}

func TestLoadTokensBadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if _, err := LoadTokens(p, nil); err == nil {
		t.Fatal("a missing file loaded")
	}
	os.WriteFile(p, []byte("\n\n"), 0o600)
	if _, err := LoadTokens(p, nil); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Fatalf("an empty file: %v", err)
	}
}
