package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/internal/emf"
	"github.com/serverless-signin/signin/pkg/session"
)

// The authorizer's context keys (docs/contract.md §2): what a protected
// function reads at requestContext.authorizer.lambda. Every value is a
// string except ContextExpiresAt, epoch seconds as a JSON number.
const (
	ContextSubject   = "sub"
	ContextEmail     = "email"
	ContextName      = "name"
	ContextIssuer    = "iss"
	ContextSession   = "session" // the session's store key, never the cookie value
	ContextExpiresAt = "expires_at"
)

// authorizerRoute names the authorizer in its log line: the "route"
// dimension of its metrics.
const authorizerRoute = "authorizer"

// The decisions of the log line.
const (
	decisionAllow = "allow"
	decisionDeny  = "deny"
	decisionError = "error"
)

// Authorize is the HTTP API's Lambda authorizer (payload 2.0, simple
// responses) in front of the app's own routes. A live session named by the
// session cookie, read as /auth/me reads it, is allowed with the user in
// the context; anything else is refused (the gateway answers 403), and so
// is an unsafe request from another site even with a live session. A
// storage failure is returned as an error (the gateway answers 5xx), never
// as a refusal: an outage must not look like "signed out".
//
// Round trips: the session core's lookup (one GetItem, plus the occasional
// idle touch), none when the request is refused before it (no or malformed
// cookie, cross-site).
func (h *Handler) Authorize(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (resp events.APIGatewayV2CustomAuthorizerSimpleResponse, err error) {
	start := time.Now()
	// The payload-2.0 request the cookie and cross-site rules read: the
	// authorizer's event carries the same cookies, headers and context.
	x := &exchange{req: events.APIGatewayV2HTTPRequest{
		Version:        req.Version,
		RouteKey:       req.RouteKey,
		RawPath:        req.RawPath,
		RawQueryString: req.RawQueryString,
		Cookies:        req.Cookies,
		Headers:        req.Headers,
		RequestContext: req.RequestContext,
	}, now: h.now()}
	x.https = session.IsHTTPS(x.req)
	d := &decision{}
	defer func() {
		if v := recover(); v != nil {
			resp, err = events.APIGatewayV2CustomAuthorizerSimpleResponse{}, errors.New("routes: authorize: internal error")
			d.outcome, d.reason, d.detail, d.err = decisionError, emf.ReasonInternal, "panic", fmt.Errorf("routes: panic: %v", v)
		}
		h.logDecision(ctx, x, d, start)
	}()
	return h.authorize(ctx, x, d)
}

// decision is what the authorizer's log line says about one request.
type decision struct {
	outcome string // decisionAllow, decisionDeny or decisionError
	reason  string // a fixed word (emf.Reason* for refusals and errors)
	detail  string // why, in words; never a cookie value
	err     error
}

func (h *Handler) authorize(ctx context.Context, x *exchange, d *decision) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	deny := func(reason, detail string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		d.outcome, d.reason, d.detail = decisionDeny, reason, detail
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	}
	// Checked before the lookup: a cross-site attempt costs no read and
	// does not count as the user's activity.
	switch x.req.RequestContext.HTTP.Method {
	case "GET", "HEAD", "OPTIONS":
	default:
		if why := h.crossSite(x); why != "" {
			return deny(emf.ReasonCrossSite, why)
		}
	}
	id, ok := session.RequestCookie(x.req, session.CookieName(x.https))
	if !ok {
		return deny(emf.ReasonNoSession, "no session cookie")
	}

	ctx, cancel := boundContext(ctx)
	defer cancel()
	sess, err := h.sessions.Lookup(ctx, id)
	var notSignedIn *session.NotSignedInError
	switch {
	case errors.As(err, &notSignedIn):
		return deny(emf.ReasonNoSession, notSignedIn.Reason)
	case err != nil:
		d.outcome, d.reason, d.detail, d.err = decisionError, emf.ReasonStorage, "get session", err
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, fmt.Errorf("routes: authorize: %w", err)
	}
	d.outcome, d.reason = decisionAllow, "live_session"
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			ContextSubject:   sess.User.Subject,
			ContextEmail:     sess.User.Email,
			ContextName:      sess.User.Name,
			ContextIssuer:    sess.Issuer,
			ContextSession:   sess.Key,
			ContextExpiresAt: sess.ExpiresAt.Unix(),
		},
	}, nil
}

// logDecision writes the one line per decision: request id, route
// ("authorizer"), the gateway's route key, decision and reason; refusals
// carry the EMF document that counts them (AuthorizerRefusals by reason).
// Like logRequest it names no cookie value: the lookup's reasons and the
// store's errors keep those out.
func (h *Handler) logDecision(ctx context.Context, x *exchange, d *decision, start time.Time) {
	level := slog.LevelInfo
	switch d.outcome {
	case decisionDeny:
		level = slog.LevelWarn
	case decisionError:
		level = slog.LevelError
	}
	lh, r, ok := h.newLine(ctx, x, level)
	if !ok {
		return
	}
	r.AddAttrs(
		slog.String(emf.RouteKey, authorizerRoute),
		slog.String("route_key", x.req.RouteKey),
		slog.String("decision", d.outcome),
		slog.Int64("duration_us", r.Time.Sub(start).Microseconds()),
	)
	if d.outcome == decisionDeny {
		r.AddAttrs(emf.Attrs(r.Time, emf.AuthorizerRefusals, d.reason)...) // adds "reason"
	} else {
		r.AddAttrs(slog.String(emf.ReasonKey, d.reason))
	}
	writeLine(ctx, lh, &r, d.detail, d.err)
}
