// Package devserver runs the four sign-in handlers on a local net/http
// server exactly as API Gateway (HTTP API, payload 2.0) and Lambda run them,
// with the session authorizer in front of the example protected route
// (/api/profile), an embedded store (or DynamoDB Local), a built-in OpenID
// provider (unless OAUTH_ISSUER names another) and a tiny status page.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/session"
)

// DefaultFunctionTimeout is the functions' Timeout in template.yaml.
const DefaultFunctionTimeout = 10 * time.Second

// ProviderPath is where the built-in provider is mounted; its issuer is
// Config.URL + ProviderPath.
const ProviderPath = "/oidc"

// Config configures a Server.
type Config struct {
	// URL is the server's origin as the browser sees it, for example
	// http://localhost:8080. The built-in provider's issuer and the
	// redirect URIs it allows derive from it, and the server calls the
	// provider's back channel there, so it must reach this server.
	URL string

	// Getenv reads the configuration (OAUTH_*, TABLE_NAME, ...); nil:
	// os.Getenv. Without OAUTH_ISSUER the built-in provider is used.
	Getenv func(string) string

	// FunctionTimeout is the deadline each request's handler gets, like a
	// Lambda function's timeout; 0: DefaultFunctionTimeout.
	FunctionTimeout time.Duration

	Logger *slog.Logger // the handlers' and the provider's log; nil: JSON to stderr
}

// Server is the dev server: an http.Handler.
type Server struct {
	fn       lambda.Handler
	page     *page
	provider *devprovider.Provider // nil with an external provider
	mounted  http.Handler          // the provider as mounted under ProviderPath
	issuer   string
	table    string
	timeout  time.Duration
	logger   *slog.Logger

	// The HTTP API's SessionAuthorizer and the routes behind it, by route
	// key (see serveProtected).
	authorizer lambda.Handler
	protected  map[string]lambda.Handler
}

// New builds the server: the store (memory, or DynamoDB when TABLE_NAME and
// AWS_ENDPOINT_URL_DYNAMODB are set; the table is created when missing),
// the provider (built in unless OAUTH_ISSUER is set) and the handlers.
func New(ctx context.Context, cfg Config) (*Server, error) {
	base, err := url.Parse(strings.TrimSuffix(cfg.URL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.Path != "" || base.RawQuery != "" {
		return nil, fmt.Errorf("devserver: URL %q is not an origin such as http://localhost:8080", cfg.URL)
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	logger := cfg.Logger
	if logger == nil {
		logger = session.NewLogger(os.Stderr)
	}
	s := &Server{timeout: cfg.FunctionTimeout, logger: logger}
	if s.timeout <= 0 {
		s.timeout = DefaultFunctionTimeout
	}

	var hint *pageHint
	formOrigins := []string{}
	if strings.TrimSpace(getenv("OAUTH_ISSUER")) == "" {
		p, err := newBuiltinProvider(base, logger)
		if err != nil {
			return nil, err
		}
		s.provider, s.mounted = p, withoutAppCookies(p.Handler())
		getenv = builtinProviderEnv(getenv, p.Issuer())
		hint = &pageHint{Username: devprovider.DemoUser.Username, Password: devprovider.DemoUser.Password}
	} else {
		formOrigins = append(formOrigins, origin(getenv("OAUTH_ISSUER")), origin(getenv("OAUTH_END_SESSION_URL")))
	}

	hs, err := newHandlers(ctx, getenv, logger)
	if err != nil {
		return nil, err
	}
	s.fn, s.table = lambda.NewHandler(hs.routes.Route), hs.table
	s.authorizer = lambda.NewHandler(hs.routes.Authorize)
	s.protected = map[string]lambda.Handler{"GET /api/profile": lambda.NewHandler(hs.profile.Profile)}
	s.issuer = strings.TrimSuffix(strings.TrimSpace(getenv("OAUTH_ISSUER")), "/")
	if s.page, err = newPage(s.issuer, hint, formOrigins); err != nil {
		return nil, fmt.Errorf("devserver: render page: %w", err)
	}
	return s, nil
}

// Issuer is the OpenID provider the handlers sign in with.
func (s *Server) Issuer() string { return s.issuer }

// Provider is the built-in provider, nil when OAUTH_ISSUER names another.
func (s *Server) Provider() *devprovider.Provider { return s.provider }

// Table is the DynamoDB table in use, "" for the embedded memory store.
func (s *Server) Table() string { return s.table }

// ServeHTTP serves the status page at /, the built-in provider under
// ProviderPath, the protected routes under ProtectedPrefix behind the
// authorizer, and everything else through the handlers as Lambda would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/":
		s.page.ServeHTTP(w, r)
	case s.mounted != nil && (r.URL.Path == ProviderPath || strings.HasPrefix(r.URL.Path, ProviderPath+"/")):
		s.mounted.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, ProtectedPrefix):
		s.serveProtected(w, r)
	default:
		s.serveFunction(w, r)
	}
}

// serveFunction is one API Gateway request: event in, function, response
// out.
func (s *Server) serveFunction(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	requestID := newGatewayRequestID()
	w.Header().Set("Apigw-Requestid", requestID)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeGatewayError(w, http.StatusRequestEntityTooLarge, bodyGatewayTooLarge)
		return
	case err != nil:
		return // the client went away mid-body
	}
	ev := newEvent(r, body, now, requestID)

	// A Lambda invocation does not end when the client hangs up; it ends
	// at the function's timeout.
	ctx, cancel := lambdaContext(context.WithoutCancel(r.Context()), s.timeout)
	defer cancel()
	resp, err := invoke(ctx, s.fn, ev)
	if err != nil {
		s.logger.ErrorContext(ctx, "devserver: function failed", "request_id", requestID, "route", ev.RouteKey, "error", err.Error())
		writeGatewayError(w, http.StatusInternalServerError, bodyGatewayError)
		return
	}
	writeResponse(w, resp)
}
