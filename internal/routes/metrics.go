package routes

import (
	"strings"

	"github.com/serverless-signin/signin/internal/emf"
)

// The sign-in metrics ride on the request's log line (internal/emf): no
// extra call, and the line's "route" attribute is their dimension. This is
// the one place that decides which line counts what.

// failureReasons maps the detail a login or callback failure is logged with
// (the x.fail calls in login.go and callback.go) to emf's fixed list of
// reasons. A detail missing here counts as emf.ReasonInternal;
// TestFailureReasons keeps the two files and this table in step.
var failureReasons = map[string]string{
	// The callback request itself: malformed, unknown, used or foreign.
	"bad query":                           emf.ReasonInvalidCallback,
	"missing state":                       emf.ReasonInvalidCallback,
	"missing code":                        emf.ReasonInvalidCallback,
	"missing or malformed binding cookie": emf.ReasonInvalidCallback,
	"unknown or expired state":            emf.ReasonInvalidCallback,
	"state already used":                  emf.ReasonInvalidCallback,
	"state bound to another browser":      emf.ReasonInvalidCallback,
	// RFC 9207.
	"iss mismatch": emf.ReasonIssuerMismatch,
	"iss missing":  emf.ReasonIssuerMismatch,
	// The provider: the authorize URL (discovery), the exchange, the ID
	// token and userinfo checks, a result without a subject.
	"authorize url": emf.ReasonProvider,
	"sign in":       emf.ReasonProvider,
	"session":       emf.ReasonProvider,
	// DynamoDB.
	"put state":      emf.ReasonStorage,
	"consume state":  emf.ReasonStorage,
	"create session": emf.ReasonStorage,
	// Configuration gaps: the wiring built the route without what it needs.
	"no provider":     emf.ReasonInternal,
	"no redirect uri": emf.ReasonInternal,
	"panic":           emf.ReasonInternal,
}

// providerErrorPrefix starts the detail of a callback carrying the
// provider's error=... (the code follows).
const providerErrorPrefix = "provider error: "

// failureReason is the reason a login or callback failure counts under.
func failureReason(detail string) string {
	if r, ok := failureReasons[detail]; ok {
		return r
	}
	if strings.HasPrefix(detail, providerErrorPrefix) {
		return emf.ReasonProviderDenied
	}
	return emf.ReasonInternal
}

// metric is what a request's log line counts, if anything: a sign-in (the
// callback's redirect after creating the session), a failed login or
// callback by reason, a sign-out (logout's success redirect). /auth/me
// counts nothing: its line stays as cheap as before.
func metric(r route, status int, detail string) (m emf.Metric, reason string, ok bool) {
	switch r {
	case routeCallback:
		if status == 302 {
			return emf.SignIns, "", true
		}
		if status >= 400 {
			return emf.SignInFailures, failureReason(detail), true
		}
	case routeLogin:
		if status >= 400 {
			return emf.SignInFailures, failureReason(detail), true
		}
	case routeLogout:
		if status == 302 {
			return emf.SignOuts, "", true
		}
	}
	return "", "", false
}
