package mariadbd

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrorLogPath is the file mariadbd writes its log to for a log_error
// value of its configuration, as mariadbd resolves it: relative to the
// data directory, ".err" added when the name has no extension. Empty
// when the configuration names none (mariadbd then prints to stderr).
func ErrorLogPath(logError, dataDir string) string {
	if logError == "" {
		return ""
	}
	p := logError
	if filepath.Ext(p) == "" {
		p += ".err"
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dataDir, p)
	}
	return p
}

// followEvery is how often the error log is read for new lines: well
// within a decide interval, cheap for a file that grows slowly.
const followEvery = 500 * time.Millisecond

// maxFollowRead bounds what one read of the error log takes in; the rest
// is read at the next tick.
const maxFollowRead = 1 << 20

// followLog reads what is appended to the file at path from offset from
// on, every every, until done is closed (then once more), and calls f
// with each whole line. A file that shrank
// (truncated, or replaced by a rotation) is read again from its start.
func followLog(path string, from int64, every time.Duration, done <-chan struct{}, f func(line string)) {
	t := time.NewTicker(every)
	defer t.Stop()
	off, partial := from, []byte(nil)
	for {
		final := false
		select {
		case <-done:
			final = true
		case <-t.C:
		}
		off, partial = readAppended(path, off, partial, f)
		if final {
			return
		}
	}
}

// readAppended reads path from off and calls f for each whole line; it
// returns the new offset and the unfinished last line.
func readAppended(path string, off int64, partial []byte, f func(line string)) (int64, []byte) {
	fh, err := os.Open(path)
	if err != nil {
		return off, partial // not there yet, or gone for a moment
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return off, partial
	}
	if st.Size() < off {
		off, partial = 0, nil
	}
	if _, err := fh.Seek(off, io.SeekStart); err != nil {
		return off, partial
	}
	buf, _ := io.ReadAll(io.LimitReader(fh, maxFollowRead))
	off += int64(len(buf))
	data := append(partial, buf...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(string(data[:i]), "\r"); strings.TrimSpace(line) != "" {
			f(line)
		}
		data = data[i+1:]
	}
	if len(data) > maxLogLine {
		data = nil // a runaway line: not one of Galera's
	}
	return off, append([]byte(nil), data...)
}

// logSize is the size of the file at path now (0 when it does not exist):
// where following it for a new process begins.
func logSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
