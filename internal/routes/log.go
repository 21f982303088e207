package routes

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-signin/signin/internal/emf"
)

// logRequest writes the one line per request. It names the route, the
// outcome and why (and, for sign-ins, failed sign-ins and sign-outs, is the
// EMF document that counts them: metrics.go), never a token, code, state, verifier or cookie value:
// x.err comes from the provider, the session core and the store, which keep those out of
// their errors.
//
// The line is most of the handler's own time, so it is kept cheap: the
// record goes to the logger's handler directly, as slog's docs show for
// wrappers, with no source position (Logger.LogAttrs would walk the stack
// for one, and it would name this line on every request); the usual
// attributes fit the record's inline space; and the duration is an integer
// number of microseconds, because slog's JSON handler writes floats through
// encoding/json's reflection.
func (h *Handler) logRequest(ctx context.Context, x *exchange, status int, start time.Time) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	lh, r, ok := h.newLine(ctx, x, level)
	if !ok {
		return
	}
	r.AddAttrs(
		slog.String("route", x.route.String()),
		slog.Int("status", status),
		slog.Int64("duration_us", r.Time.Sub(start).Microseconds()),
	)
	if m, reason, ok := metric(x.route, status, x.detail); ok {
		// An EMF document (metrics.go): CloudWatch counts it from the line.
		r.AddAttrs(emf.Attrs(r.Time, m, reason)...)
	}
	writeLine(ctx, lh, &r, x.detail, x.err)
}

// newLine starts the one line of a request at level with its request id;
// ok is false when the logger drops that level (then nothing is built).
func (h *Handler) newLine(ctx context.Context, x *exchange, level slog.Level) (slog.Handler, slog.Record, bool) {
	lh := h.logger.Handler()
	if !lh.Enabled(ctx, level) {
		return nil, slog.Record{}, false
	}
	r := slog.NewRecord(time.Now(), level, "request", 0)
	r.AddAttrs(slog.String("request_id", requestID(ctx, x)))
	return lh, r, true
}

// writeLine ends a line with why the request went as it did (detail and
// error, when any) and writes it. A line that cannot be written must not
// fail the request.
func writeLine(ctx context.Context, lh slog.Handler, r *slog.Record, detail string, err error) {
	if detail != "" {
		r.AddAttrs(slog.String("detail", detail))
	}
	if err != nil {
		r.AddAttrs(slog.String("error", err.Error()))
	}
	_ = lh.Handle(ctx, *r)
}

// requestID prefers the Lambda invocation id, which is also on the
// platform's own START/END lines; the gateway's id otherwise.
func requestID(ctx context.Context, x *exchange) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return x.req.RequestContext.RequestID
}
