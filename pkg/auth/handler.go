// Package auth serves the sign-in routes (/auth/login, /auth/callback,
// /auth/me, /auth/logout) as API Gateway HTTP API (payload 2.0) handlers over
// an OpenID Connect client and a server-side session store.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// Defaults for the zero values of Options.
const (
	DefaultSessionLifetime = 7 * 24 * time.Hour
	DefaultStateLifetime   = 10 * time.Minute
	DefaultRevokeTimeout   = 2 * time.Second

	// touchInterval bounds how often /auth/me writes the idle expiry: one
	// GetItem per request, one UpdateItem at most every five minutes.
	touchInterval = 5 * time.Minute

	// deadlineMargin is kept free before the Lambda deadline so a slow
	// dependency turns into our 500 answer instead of a function timeout.
	deadlineMargin = 500 * time.Millisecond
	// defaultCallBudget bounds a request when the context has no deadline
	// (the dev server, tests).
	defaultCallBudget = 10 * time.Second
)

// Options tune the handlers. The zero value is usable.
type Options struct {
	SessionLifetime time.Duration // absolute session lifetime; 0: DefaultSessionLifetime
	IdleTimeout     time.Duration // sign out after this long without /auth/me; 0: off
	StateLifetime   time.Duration // how long a sign-in may take; 0: DefaultStateLifetime

	// RedirectURL is the callback URL registered at the provider. Empty:
	// {proto}://{requestContext.domainName}/auth/callback.
	RedirectURL string
	// PostLogoutRedirectURL, when set, sends logout to the provider's
	// end-session endpoint, which returns the browser here.
	PostLogoutRedirectURL string
	// AppOrigin is the origin allowed to POST /auth/logout. Empty:
	// {proto}://{requestContext.domainName}.
	AppOrigin string
	// RevokeTimeout bounds the best-effort token revocation at logout;
	// 0: DefaultRevokeTimeout.
	RevokeTimeout time.Duration

	Logger *slog.Logger     // nil: JSON to stderr
	Now    func() time.Time // nil: time.Now
}

// Handler serves the four routes. It holds no per-request state, so one
// Handler serves concurrent requests.
type Handler struct {
	oauth *oauth.Client // nil in the me-only binary
	store store.Store
	opts  Options
}

// New returns a Handler. client may be nil when only Me is served.
func New(client *oauth.Client, st store.Store, opts Options) *Handler {
	if opts.SessionLifetime <= 0 {
		opts.SessionLifetime = DefaultSessionLifetime
	}
	if opts.StateLifetime <= 0 {
		opts.StateLifetime = DefaultStateLifetime
	}
	if opts.IdleTimeout < 0 {
		opts.IdleTimeout = 0
	}
	if opts.RevokeTimeout <= 0 {
		opts.RevokeTimeout = DefaultRevokeTimeout
	}
	if opts.Logger == nil {
		opts.Logger = NewLogger(os.Stderr)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Handler{oauth: client, store: st, opts: opts}
}

// Route names one of the routes; FromEnv builds only what a route needs.
type Route int

const (
	RouteLogin Route = iota
	RouteCallback
	RouteMe
	RouteLogout
	RouteAll // every route, for the dev server
)

func (r Route) String() string {
	switch r {
	case RouteLogin:
		return "login"
	case RouteCallback:
		return "callback"
	case RouteMe:
		return "me"
	case RouteLogout:
		return "logout"
	case RouteAll:
		return "all"
	}
	return fmt.Sprintf("Route(%d)", int(r))
}

// failureBody is what each route answers on a 500, panics included, so a
// client sees one body per route whatever broke.
func (r Route) failureBody() string {
	switch r {
	case RouteMe:
		return bodySessionLookupFailed
	case RouteLogout:
		return bodySignOutFailed
	case RouteLogin, RouteCallback:
		return bodySignInFailed
	}
	return bodyInternalError
}

// Login handles GET /auth/login.
func (h *Handler) Login(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, RouteLogin, req, bounded(h.login)), nil
}

// Callback handles GET /auth/callback.
func (h *Handler) Callback(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, RouteCallback, req, bounded(h.callback)), nil
}

// Me handles GET /auth/me. It bounds its one store call itself: most
// answers without a session make none.
func (h *Handler) Me(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, RouteMe, req, h.me), nil
}

// Logout handles POST /auth/logout.
func (h *Handler) Logout(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, RouteLogout, req, bounded(h.logout)), nil
}

// Route dispatches on method and path, for servers that send every route to
// one handler (cmd/dev). Unknown paths get 404, wrong methods 405.
func (h *Handler) Route(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	var (
		method = "GET"
		serve  func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
	)
	switch path {
	case "/auth/login":
		serve = h.Login
	case "/auth/callback":
		serve = h.Callback
	case "/auth/me":
		serve = h.Me
	case "/auth/logout":
		method, serve = "POST", h.Logout
	default:
		return jsonResponse(404, bodyNotFound), nil
	}
	if req.RequestContext.HTTP.Method != method {
		resp := jsonResponse(405, bodyMethodNotAllowed)
		resp.Headers["Allow"] = method
		return resp, nil
	}
	return serve(ctx, req)
}

// exchange is one request in flight: the event, what the route learned and
// what goes to the log line.
type exchange struct {
	route Route
	req   events.APIGatewayV2HTTPRequest
	https bool
	now   time.Time

	// detail says why a request was refused or failed; err carries the
	// underlying error. Both go to the log only, never to the client.
	detail string
	err    error
}

// fail records why a request was answered with resp.
func (x *exchange) fail(resp events.APIGatewayV2HTTPResponse, detail string, err error) events.APIGatewayV2HTTPResponse {
	x.detail, x.err = detail, err
	return resp
}

// note records a problem that did not change the answer (a failed
// revocation, a missed idle touch).
func (x *exchange) note(detail string, err error) {
	if x.detail != "" {
		detail = x.detail + "; " + detail
	}
	x.detail, x.err = detail, errors.Join(x.err, err)
}

// routeFunc is one route's work on a request in flight.
type routeFunc func(context.Context, *exchange) events.APIGatewayV2HTTPResponse

// serve runs one route: it turns a panic into the route's 500 and writes
// one log line.
func (h *Handler) serve(ctx context.Context, route Route, req events.APIGatewayV2HTTPRequest, fn routeFunc) (resp events.APIGatewayV2HTTPResponse) {
	start := time.Now()
	x := &exchange{route: route, req: req, https: isHTTPS(req), now: h.opts.Now()}
	defer func() {
		if v := recover(); v != nil {
			resp = jsonResponse(500, route.failureBody())
			x.detail, x.err = "panic", fmt.Errorf("auth: panic: %v", v)
		}
		h.logRequest(ctx, x, resp.StatusCode, start)
	}()
	return fn(ctx, x)
}

// bounded runs fn, and every outbound call it makes, under boundContext.
func bounded(fn routeFunc) routeFunc {
	return func(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
		ctx, cancel := boundContext(ctx)
		defer cancel()
		return fn(ctx, x)
	}
}

// boundContext derives the context every outbound call runs under: it ends
// deadlineMargin before the Lambda deadline, or after defaultCallBudget.
func boundContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-deadlineMargin))
	}
	return context.WithTimeout(ctx, defaultCallBudget)
}
