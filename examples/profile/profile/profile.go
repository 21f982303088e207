// Package profile is an EXAMPLE of the app's own code behind the
// SessionAuthorizer, not part of the sign-in service: GET /api/profile
// answers with the signed-in user, read from the authorizer's context, and
// the provider's userinfo, fetched with the user's access token (refreshed
// when due). Copy it as a starting point for a protected route.
package profile

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/serverless-signin/signin/pkg/auth"
)

// Answers other than 200.
const (
	bodySignInAgain   = `{"error":"Sign in again"}`
	bodyInternalError = `{"error":"Internal error"}`
)

// Handler serves GET /api/profile behind the SessionAuthorizer. Build it
// once per container.
type Handler struct {
	// Sessions gives the user's access token (AccessToken) and the OpenID
	// client that fetches userinfo with it (OAuth, which
	// auth.SessionsFromEnv sets).
	Sessions *auth.Sessions
	Logger   *slog.Logger // nil: slog.Default()
}

// User is the signed-in user as the answer shows it; unknown email and
// name are null, as in /auth/me.
type User struct {
	ID    string  `json:"id"`
	Email *string `json:"email"`
	Name  *string `json:"name"`
}

// Answer is the body of a 200: the user from the authorizer's context and
// every claim the provider's userinfo endpoint returned.
type Answer struct {
	User     User           `json:"user"`
	UserInfo map[string]any `json:"userinfo"`
}

// Profile handles GET /api/profile. The user costs nothing (the authorizer
// put it in the request); the token costs one GetItem (plus a refresh at
// the provider when it is due) and the userinfo one provider call.
// Answers: 200 Answer; 401 {"error":"Sign in again"} when the request has
// no session or its grant has ended (auth.ErrNotSignedIn,
// auth.ErrSignInAgain); 500 {"error":"Internal error"} for a storage or
// provider failure. The access token never leaves the function.
func (h *Handler) Profile(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	start := time.Now()
	status, body, detail, err := h.profile(ctx, req)
	h.log(ctx, req, status, detail, err, start)
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       body,
		Cookies:    []string{},
	}, nil
}

func (h *Handler) profile(ctx context.Context, req events.APIGatewayV2HTTPRequest) (status int, body, detail string, err error) {
	sess, err := auth.FromAuthorizer(req)
	if err != nil {
		return 401, bodySignInAgain, "no authorizer context", nil
	}
	token, err := h.Sessions.AccessToken(ctx, sess)
	switch {
	case errors.Is(err, auth.ErrNotSignedIn): // ErrSignInAgain too
		return 401, bodySignInAgain, "access token", err
	case err != nil:
		return 500, bodyInternalError, "access token", err
	}
	if h.Sessions.OAuth == nil {
		return 500, bodyInternalError, "no OpenID client to fetch userinfo with", nil
	}
	info, err := h.Sessions.OAuth.UserInfo(ctx, token, sess.User.Subject)
	if err != nil {
		return 500, bodyInternalError, "userinfo", err
	}
	b, err := json.Marshal(Answer{
		User:     User{ID: sess.User.Subject, Email: optional(sess.User.Email), Name: optional(sess.User.Name)},
		UserInfo: info.Claims,
	})
	if err != nil {
		return 500, bodyInternalError, "encode answer", err
	}
	return 200, string(b), "", nil
}

// log writes one JSON line per request, without the token: the errors of
// pkg/auth and pkg/oauth keep tokens out of their text.
func (h *Handler) log(ctx context.Context, req events.APIGatewayV2HTTPRequest, status int, detail string, err error, start time.Time) {
	logger := h.Logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	id := req.RequestContext.RequestID
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		id = lc.AwsRequestID
	}
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("route", "profile"),
		slog.Int("status", status),
		slog.Int64("duration_us", time.Since(start).Microseconds()),
	}
	if detail != "" {
		attrs = append(attrs, slog.String("detail", detail))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	logger.LogAttrs(ctx, level, "request", attrs...)
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
