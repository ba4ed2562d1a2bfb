package hubconfig

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/hashicorp/go-hclog"
)

// useJSON decides the log format: the setting, else JSON unless w is a
// terminal (production logs go to a collector; people read text).
func useJSON(format string, w io.Writer) bool {
	switch format {
	case "json":
		return true
	case "text":
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return true
	}
	fi, err := f.Stat()
	return err != nil || fi.Mode()&os.ModeCharDevice == 0
}

// raftSink routes raft's hclog lines into the hub's slog logger, so that
// one format and one handler carry every line.
type raftSink struct {
	log   *slog.Logger
	level hclog.Level
}

func (s raftSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	if level < s.level || level == hclog.Off {
		return
	}
	var l slog.Level
	switch {
	case level <= hclog.Debug:
		l = slog.LevelDebug
	case level == hclog.Info:
		l = slog.LevelInfo
	case level == hclog.Warn:
		l = slog.LevelWarn
	default:
		l = slog.LevelError
	}
	s.log.Log(context.Background(), l, msg, append([]any{"logger", name}, args...)...)
}

// raftLogger is an hclog.Logger whose lines at level and above go to log.
func raftLogger(log *slog.Logger, level hclog.Level) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "raft", Level: hclog.Off, Output: io.Discard})
	il.RegisterSink(raftSink{log: log, level: level})
	return il
}
