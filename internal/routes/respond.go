package routes

import (
	"maps"

	"github.com/aws/aws-lambda-go/events"

	"github.com/serverless-signin/signin/pkg/session"
)

// The fixed JSON bodies of the routes (docs/contract.md §2).
const (
	bodyUnauthenticated     = `{"authenticated":false}`
	bodyInvalidCallback     = `{"error":"Invalid OAuth callback"}`
	bodySignInFailed        = `{"error":"OAuth sign-in failed"}`
	bodySessionLookupFailed = `{"error":"Session lookup failed"}`
	bodySignOutFailed       = `{"error":"Sign-out failed"}`
	bodyForbidden           = `{"error":"Forbidden"}`
	bodyNotFound            = `{"error":"Not found"}`
	bodyMethodNotAllowed    = `{"error":"Method not allowed"}`
	bodyInternalError       = `{"error":"Internal error"}`
)

// The headers on every response: nothing here may be cached, sniffed or
// leak the URL (which may hold a code) in a Referer. Each response gets its
// own copy, since whoever receives it may add to its map: maps.Clone copies
// these small maps in one piece, cheaper than building them key by key.
var (
	baseHeaders = map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	jsonHeaders = func() map[string]string {
		h := maps.Clone(baseHeaders)
		h["Content-Type"] = "application/json"
		return h
	}()
)

func jsonResponse(status int, body string, cookies ...string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: maps.Clone(jsonHeaders), Body: body, Cookies: cookieList(cookies)}
}

func redirect(location string, cookies ...string) events.APIGatewayV2HTTPResponse {
	h := maps.Clone(baseHeaders)
	h["Location"] = location
	return events.APIGatewayV2HTTPResponse{StatusCode: 302, Headers: h, Cookies: cookieList(cookies)}
}

// cookieList makes "no cookies" an empty JSON array rather than null, which
// every consumer of the response reads the same way.
func cookieList(cookies []string) []string {
	if cookies == nil {
		return []string{}
	}
	return cookies
}

// selfOrigin is {proto}://{domainName} of the request ("" when unknown).
func selfOrigin(x *exchange) string {
	host := x.req.RequestContext.DomainName
	if host == "" {
		host, _ = session.Header(x.req, "host")
	}
	if host == "" {
		return ""
	}
	if x.https {
		return "https://" + host
	}
	return "http://" + host
}
