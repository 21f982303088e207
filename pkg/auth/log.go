package auth

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// NewLogger returns the JSON logger the handlers write to.
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, nil))
}

// logRequest writes the one line per request. It names the route, the
// outcome and why, never a token, code, state, verifier or cookie value:
// x.err comes from pkg/oauth and pkg/oauth/store, which keep those out of
// their errors.
func (h *Handler) logRequest(ctx context.Context, x *exchange, status int, took time.Duration) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestID(ctx, x)),
		slog.String("route", x.route.String()),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
	}
	if x.detail != "" {
		attrs = append(attrs, slog.String("detail", x.detail))
	}
	if x.err != nil {
		attrs = append(attrs, slog.String("error", x.err.Error()))
	}
	h.opts.Logger.LogAttrs(ctx, level, "request", attrs...)
}

// requestID prefers the Lambda invocation id, which is also on the
// platform's own START/END lines; the gateway's id otherwise.
func requestID(ctx context.Context, x *exchange) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return x.req.RequestContext.RequestID
}
