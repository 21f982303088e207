package routes

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// bodySignInToSignOutEverywhere answers a sign out everywhere that cannot
// tell whose sessions to end (docs/contract.md §1.5).
const bodySignInToSignOutEverywhere = `{"error":"Sign in again to sign out everywhere"}`

// logout ends this browser's session: it deletes the session and token
// records, revokes the provider tokens (best effort, bounded), clears the
// cookie and redirects to "/" or to the provider's end-session endpoint.
// With ?everywhere=1 (or true) it then ends every other session of the same
// user too, the user named by this browser's session record even when that
// record has expired (the delete returns it: no extra read); with no record
// to name the user it answers 401, never the success redirect. Both go
// through the session core.
// Round trips: two DeleteItem (in the store), one revocation; everywhere
// adds one Query on the user index and, per other session (expired ones
// included), two DeleteItem and one revocation.
func (h *Handler) logout(ctx context.Context, x *exchange) events.APIGatewayV2HTTPResponse {
	if m := x.req.RequestContext.HTTP.Method; m != "" && m != "POST" {
		// A GET logout could be triggered by any <img> on any site.
		resp := jsonResponse(405, bodyMethodNotAllowed)
		resp.Headers["Allow"] = "POST"
		return x.fail(resp, "method "+m, nil)
	}
	if why := h.crossSite(x); why != "" {
		return x.fail(jsonResponse(403, bodyForbidden), why, nil)
	}

	name := session.CookieName(x.https)
	clear := cookie(name, "", 0, x.https)
	everywhere := signOutEverywhere(x)
	var ended session.Ended
	if id, ok := session.RequestCookie(x.req, name); ok && session.ValidToken(id) {
		e, err := h.sessions.End(ctx, store.Hash(id))
		switch {
		case errors.Is(err, session.ErrNotSignedIn):
			// No record left (signed out, or deleted by TTL): logout is
			// idempotent.
		case err != nil:
			// We cannot tell whether the records are gone, so we must not
			// answer as if sign-out worked. The browser still drops its
			// cookie: without it the session is unreachable from here,
			// and the record expires by itself.
			return x.fail(jsonResponse(500, bodySignOutFailed, clear), "delete session", err)
		default:
			ended = e
		}
	}
	if ended.RevokeErr != nil {
		x.note("revoke", ended.RevokeErr)
	}

	if everywhere {
		// The deleted record names the user, expired or not. Without one
		// (no cookie, a malformed or unknown one) nobody can be signed out
		// elsewhere, and the user must not be told they were: a plain
		// logout is idempotent, this one is not.
		user := ended.Session.User
		if user.Subject == "" {
			return x.fail(jsonResponse(401, bodySignInToSignOutEverywhere, clear), "sign out everywhere without a session", nil)
		}
		if _, err := h.sessions.EndAll(ctx, ended.Session.Issuer, user.Subject); err != nil {
			// Some sessions may live on: the user must not be told they
			// are all gone. This browser's own session is gone either way.
			return x.fail(jsonResponse(500, bodySignOutFailed, clear), "sign out everywhere", err)
		}
	}

	location := "/"
	if h.cfg.PostLogoutRedirectURL != "" && h.provider != nil {
		u, err := h.provider.EndSessionURL(ctx, ended.IDToken, h.cfg.PostLogoutRedirectURL, "")
		if err != nil {
			// The local sign-out is done; not reaching the provider's
			// logout page is no reason to fail it.
			x.note("end session url", err)
		} else {
			location = u
		}
	}
	return redirect(location, clear)
}

// signOutEverywhere reports whether the logout asks to end every session of
// the user: everywhere=1 or everywhere=true, read by the strict query parser.
// Anything else, an unreadable query included, is a plain logout: signing
// this browser out must never fail for an option.
func signOutEverywhere(x *exchange) bool {
	q, err := strictQuery(x.req, "everywhere")
	if err != nil {
		x.note("query ignored", err)
		return false
	}
	switch q["everywhere"] {
	case "1", "true":
		return true
	}
	return false
}

// crossSite explains why a logout request comes from another site, or
// returns "". Browsers send Origin on every POST; "null" (sandboxed frames,
// redirects across origins) is never the app. Sec-Fetch-Site covers
// browsers that omit Origin.
func (h *Handler) crossSite(x *exchange) string {
	if v, ok := session.Header(x.req, "sec-fetch-site"); ok && strings.EqualFold(strings.TrimSpace(v), "cross-site") {
		return "sec-fetch-site cross-site"
	}
	origin, ok := session.Header(x.req, "origin")
	if !ok {
		return ""
	}
	app := h.cfg.AppOrigin
	if app == "" {
		app = selfOrigin(x)
		if _, known := session.Header(x.req, "x-forwarded-proto"); !known && app != "" {
			// Without X-Forwarded-Proto (some local gateways) the scheme
			// is a guess; the host and port still have to be ours.
			host := strings.TrimPrefix(app, "https://")
			if sameOrigin(origin, "http://"+host) {
				return ""
			}
		}
	}
	if !sameOrigin(origin, app) {
		return "foreign origin"
	}
	return ""
}

// ValidOrigin reports whether s is a bare http(s) origin, scheme://host[:port],
// as AppOrigin must be.
func ValidOrigin(s string) bool {
	_, ok := originKey(s)
	return ok
}

// sameOrigin compares two serialized origins by scheme, host and port
// (default ports made explicit, case-insensitive scheme and host). Anything
// that is not a bare http(s) origin matches nothing.
func sameOrigin(a, b string) bool {
	ka, ok := originKey(a)
	if !ok {
		return false
	}
	kb, ok := originKey(strings.TrimSuffix(b, "/"))
	return ok && ka == kb
}

func originKey(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" ||
		u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	switch {
	case scheme == "https" && port == "":
		port = "443"
	case scheme == "http" && port == "":
		port = "80"
	case scheme != "https" && scheme != "http":
		return "", false
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port), true
}
