// Package tail reads the end of what a child process wrote: its last
// bytes from a file, its last lines from a text, so that an error can show
// the cause without reading an output of any size.
package tail

import (
	"errors"
	"io"
	"os"
	"strings"
)

// File reads the last limit bytes of f.
func File(f *os.File, limit int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-limit, 0)
	b := make([]byte, st.Size()-off)
	_, err = f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return b, err
}

// Lines is the last n lines of s.
func Lines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
