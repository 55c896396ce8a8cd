package mariadbd

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
)

// maxLogLine bounds one record: a longer line is cut, and the rest of it
// dropped, so that a runaway child cannot grow the sentinel's memory.
const maxLogLine = 16 << 10

// logPipe is a pipe whose write end a child gets as its stdout and
// stderr; every line that comes out of the read end becomes one record of
// log. mariadbd's plain-text lines never land raw in the sentinel's JSON.
// close releases the parent's copy of the write end once the child has
// started; the reader ends when the child and everything it started
// (an SST script, rsync) have closed theirs.
// notice, when set, is called with every line before it is logged.
func logPipe(log *slog.Logger, notice func(line string)) (w *os.File, closeParent func(), err error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	go func() {
		defer pr.Close()
		logLines(pr, log, notice)
	}()
	return pw, func() { pw.Close() }, nil
}

// LogLines reads r to its end and logs each line as a record: level from
// MariaDB's own tag ([ERROR], [Warning]), the line as the message. A line
// longer than maxLogLine is cut there; a last line without a newline is
// logged too.
func LogLines(r io.Reader, log *slog.Logger) { logLines(r, log, nil) }

func logLines(r io.Reader, log *slog.Logger, notice func(line string)) {
	br := bufio.NewReaderSize(r, 4096)
	var line []byte
	cut := false
	for {
		part, isPrefix, err := br.ReadLine()
		if len(part) > 0 && !cut {
			room := maxLogLine - len(line)
			if len(part) > room {
				part, cut = part[:room], true
			}
			line = append(line, part...)
		}
		if err == nil && isPrefix {
			continue
		}
		if len(line) > 0 || (err == nil && !isPrefix) {
			emit(log, string(line), cut, notice)
		}
		line, cut = line[:0], false
		if err != nil {
			return
		}
	}
}

func emit(log *slog.Logger, line string, cut bool, notice func(line string)) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	if notice != nil {
		notice(line)
	}
	level := slog.LevelInfo
	switch {
	case strings.Contains(line, "[ERROR]"):
		level = slog.LevelError
	case strings.Contains(line, "[Warning]"):
		level = slog.LevelWarn
	}
	if cut {
		log.Log(context.Background(), level, line, "truncated", true)
		return
	}
	log.Log(context.Background(), level, line)
}
