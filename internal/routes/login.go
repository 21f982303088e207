package routes

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// errNoProvider: a route that needs the provider runs in a handler built
// without one (the me-only wiring).
var errNoProvider = errors.New("routes: handler built without a provider")

// login starts a sign-in: it binds the flow to this browser with a cookie,
// writes the state record and sends the browser to the provider.
// Round trips: one PutItem; none to the provider when the authorize
// endpoint is configured (or discovery is cached).
func (h *Handler) login(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	fail := jsonResponse(500, bodySignInFailed)
	if h.provider == nil {
		return x.fail(fail, "no provider", errNoProvider)
	}

	// An undecodable or repeated return_to is not worth refusing a
	// sign-in over: it falls back to "/" like any other unsafe value.
	returnTo := "/"
	if q, err := strictQuery(x.req, "return_to"); err == nil {
		returnTo = safeReturnTo(q["return_to"])
	}

	redirectURI, err := h.redirectURI(x)
	if err != nil {
		return x.fail(fail, "no redirect uri", err)
	}

	// Reuse a valid binding so a second tab's sign-in does not break the
	// first's: each tab's state carries the same binding hash, and no
	// callback clears it, so every pending sign-in completes.
	binding, ok := session.RequestCookie(x.req, session.BindingCookieName(x.https))
	if !ok || !session.ValidToken(binding) {
		binding = session.NewToken()
	}

	authorizeURL, ar, err := h.provider.AuthCodeURL(ctx, redirectURI)
	if err != nil {
		return x.fail(fail, "authorize url", err)
	}
	err = h.store.PutState(ctx, store.State{
		AuthRequest: ar,
		BindingHash: store.Hash(binding),
		ReturnTo:    returnTo,
		CreatedAt:   x.now,
		ExpiresAt:   x.now.Add(h.cfg.StateLifetime),
	})
	if err != nil {
		return x.fail(fail, "put state", err)
	}
	return redirect(authorizeURL, cookie(session.BindingCookieName(x.https), binding, h.cfg.StateLifetime, x.https))
}

// redirectURI is the callback URL sent in the authorize request. The state
// record keeps it so the token request repeats it byte for byte.
func (h *Handler) redirectURI(x *exchange) (string, error) {
	if h.cfg.RedirectURL != "" {
		return h.cfg.RedirectURL, nil
	}
	origin := selfOrigin(x)
	if origin == "" {
		return "", errors.New("routes: no requestContext.domainName or Host header to build the redirect uri; set OAUTH_REDIRECT_URI")
	}
	return origin + "/auth/callback", nil
}
