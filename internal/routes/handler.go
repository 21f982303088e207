// Package routes serves the sign-in routes (/auth/login, /auth/callback,
// /auth/me, /auth/logout) as API Gateway HTTP API (payload 2.0) handlers,
// and the session authorizer (Handler.Authorize) that guards the app's own
// routes, over the session core; the provider is reached through Provider
// only.
package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// Defaults for the zero values of Config.
const (
	DefaultSessionLifetime = 7 * 24 * time.Hour
	DefaultStateLifetime   = 10 * time.Minute

	// deadlineMargin is kept free before the Lambda deadline so a slow
	// dependency turns into our 500 answer instead of a function timeout.
	deadlineMargin = 500 * time.Millisecond
	// defaultCallBudget bounds a request when the context has no deadline
	// (the dev server, tests).
	defaultCallBudget = 10 * time.Second
)

// Provider is the OpenID provider as the routes use it.
type Provider interface {
	// AuthCodeURL returns the provider's authorize URL for a fresh sign-in
	// (state, nonce, PKCE S256) and what the callback needs to finish it.
	AuthCodeURL(ctx context.Context, redirectURI string) (string, signin.AuthRequest, error)
	// SignIn exchanges the code of req's sign-in and returns the verified
	// result (ID token, nonce, userinfo checked).
	SignIn(ctx context.Context, code string, req signin.AuthRequest) (signin.Result, error)
	// Issuer is the configured issuer identifier.
	Issuer() string
	// IssParameterSupported reports whether the provider's discovery
	// document promises an iss parameter on every authorization response
	// (RFC 9207).
	IssParameterSupported(ctx context.Context) bool
	// EndSessionURL is the provider's end-session (RP-initiated logout) URL.
	EndSessionURL(ctx context.Context, idTokenHint, postLogoutRedirectURI, state string) (string, error)
}

// Config configures the handlers. Session.Store is required; every other
// zero value is usable.
type Config struct {
	// Session configures the session core the routes share with the
	// app-facing library: the store, IdleTimeout, RevokeTimeout, the
	// Revoker logout uses, Logger and Now (session.New fills their
	// defaults).
	Session session.Config
	// Provider serves login, callback and the end-session redirect; nil in
	// the me-only binary (login and callback then answer 500).
	Provider Provider

	SessionLifetime time.Duration // absolute session lifetime; 0: DefaultSessionLifetime
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
}

// Handler serves the four routes. It holds no per-request state, so one
// Handler serves concurrent requests.
type Handler struct {
	cfg      Config // defaults filled; cfg.Session as the session core filled it
	provider Provider
	store    store.Store
	sessions *session.Manager
	logger   *slog.Logger
	now      func() time.Time
}

// New returns a Handler.
func New(cfg Config) *Handler {
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.StateLifetime <= 0 {
		cfg.StateLifetime = DefaultStateLifetime
	}
	m := session.New(cfg.Session)
	cfg.Session = m.Config()
	return &Handler{
		cfg:      cfg,
		provider: cfg.Provider,
		store:    cfg.Session.Store,
		sessions: m,
		logger:   cfg.Session.Logger,
		now:      cfg.Session.Now,
	}
}

// Sessions is the session core the handlers use.
func (h *Handler) Sessions() *session.Manager { return h.sessions }

// route names one of the routes in logs and picks its failure body.
type route int

const (
	routeLogin route = iota
	routeCallback
	routeMe
	routeLogout
)

func (r route) String() string {
	switch r {
	case routeLogin:
		return "login"
	case routeCallback:
		return "callback"
	case routeMe:
		return "me"
	case routeLogout:
		return "logout"
	}
	return fmt.Sprintf("route(%d)", int(r))
}

// failureBody is what each route answers on a 500, panics included, so a
// client sees one body per route whatever broke.
func (r route) failureBody() string {
	switch r {
	case routeMe:
		return bodySessionLookupFailed
	case routeLogout:
		return bodySignOutFailed
	case routeLogin, routeCallback:
		return bodySignInFailed
	}
	return bodyInternalError
}

// Login handles GET /auth/login.
func (h *Handler) Login(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, routeLogin, req, bounded(h.login)), nil
}

// Callback handles GET /auth/callback.
func (h *Handler) Callback(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, routeCallback, req, bounded(h.callback)), nil
}

// Me handles GET /auth/me. It bounds its one store call itself: most
// answers without a session make none.
func (h *Handler) Me(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, routeMe, req, h.me), nil
}

// Logout handles POST /auth/logout.
func (h *Handler) Logout(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.serve(ctx, routeLogout, req, bounded(h.logout)), nil
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
	route route
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
func (h *Handler) serve(ctx context.Context, r route, req events.APIGatewayV2HTTPRequest, fn routeFunc) (resp events.APIGatewayV2HTTPResponse) {
	start := time.Now()
	x := &exchange{route: r, req: req, https: session.IsHTTPS(req), now: h.now()}
	defer func() {
		if v := recover(); v != nil {
			resp = jsonResponse(500, r.failureBody())
			x.detail, x.err = "panic", fmt.Errorf("routes: panic: %v", v)
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
