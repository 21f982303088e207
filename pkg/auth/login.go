package auth

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/oauth/store"
)

// login starts a sign-in: it binds the flow to this browser with a cookie,
// writes the state record and sends the browser to the provider.
// Round trips: one PutItem; none to the provider when the authorize
// endpoint is configured (or discovery is cached).
func (h *Handler) login(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	fail := jsonResponse(500, bodySignInFailed)
	if h.oauth == nil {
		return x.fail(fail, "no oauth client", errors.New("auth: handler built without an oauth client"))
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
	// first's: each tab's state carries the same binding hash. The first
	// callback clears the binding cookie, so the other tab's callback is
	// then refused (400); the browser is signed in by then.
	binding, ok := requestCookie(x.req, bindingCookieName(x.https))
	if !ok || !validToken(binding) {
		binding = newToken()
	}

	ar, err := h.oauth.AuthCodeURL(ctx, redirectURI)
	if err != nil {
		return x.fail(fail, "authorize url", err)
	}
	err = h.store.PutState(ctx, store.State{
		State:       ar.State,
		BindingHash: store.Hash(binding),
		Nonce:       ar.Nonce,
		Verifier:    ar.Verifier,
		ReturnTo:    returnTo,
		RedirectURI: redirectURI,
		CreatedAt:   x.now,
		ExpiresAt:   x.now.Add(h.opts.StateLifetime),
	})
	if err != nil {
		return x.fail(fail, "put state", err)
	}
	return redirect(ar.URL, cookie(bindingCookieName(x.https), binding, h.opts.StateLifetime, x.https))
}

// redirectURI is the callback URL sent in the authorize request. The state
// record keeps it so the token request repeats it byte for byte.
func (h *Handler) redirectURI(x *exchange) (string, error) {
	if h.opts.RedirectURL != "" {
		return h.opts.RedirectURL, nil
	}
	origin := selfOrigin(x)
	if origin == "" {
		return "", errors.New("auth: no requestContext.domainName or Host header to build the redirect uri; set OAUTH_REDIRECT_URI")
	}
	return origin + "/auth/callback", nil
}
