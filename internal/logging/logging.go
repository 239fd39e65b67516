// Package logging builds bouncer's zap logger: JSON on stdout with the field
// names Cloud Logging reads (severity, message, time).
package logging

import (
	"io"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a JSON logger writing to w.
func New(w io.Writer) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "severity",
		MessageKey:     "message",
		NameKey:        "logger",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    severity,
		EncodeTime:     zapcore.TimeEncoderOfLayout(time.RFC3339Nano),
		EncodeDuration: zapcore.SecondsDurationEncoder,
	})
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel))
}

// severity maps zap levels to Cloud Logging's LogSeverity names.
func severity(l zapcore.Level, e zapcore.PrimitiveArrayEncoder) {
	switch l {
	case zapcore.DebugLevel:
		e.AppendString("DEBUG")
	case zapcore.InfoLevel:
		e.AppendString("INFO")
	case zapcore.WarnLevel:
		e.AppendString("WARNING")
	case zapcore.ErrorLevel:
		e.AppendString("ERROR")
	case zapcore.DPanicLevel:
		e.AppendString("CRITICAL")
	case zapcore.PanicLevel:
		e.AppendString("ALERT")
	default:
		e.AppendString("EMERGENCY")
	}
}
