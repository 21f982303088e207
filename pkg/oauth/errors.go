package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/serverless-signin/signin/pkg/signin"
)

// Conditions callers branch on (check with errors.Is).
var (
	// ErrInvalidIDToken: the ID token failed verification (signature,
	// algorithm, iss, aud, azp, exp, iat, nbf, nonce or sub).
	ErrInvalidIDToken = errors.New("oauth: invalid ID token")
	// ErrNonceMismatch: the ID token's nonce is not the one sent. It is a
	// kind of ErrInvalidIDToken: errors.Is matches both.
	ErrNonceMismatch error = &subKind{"oauth: invalid ID token: nonce mismatch", ErrInvalidIDToken}
	// ErrSubjectMismatch: userinfo or a refreshed ID token names another
	// subject than the signed-in one.
	ErrSubjectMismatch = errors.New("oauth: subject mismatch")
	// ErrIssuerMismatch: the discovery document (or a refreshed ID token)
	// names another issuer than the configured one.
	ErrIssuerMismatch = errors.New("oauth: issuer mismatch")
	// ErrMissingIDToken: the token response has no id_token although the
	// openid scope (always requested) asks for one.
	ErrMissingIDToken = errors.New("oauth: token response has no ID token")
	// ErrNoRefreshToken: Refresh was called with a token that has no
	// refresh token; the user must sign in again. It is a kind of
	// signin.ErrGrantEnded: errors.Is matches both.
	ErrNoRefreshToken error = &subKind{"oauth: no refresh token", signin.ErrGrantEnded}
)

// subKind is a sentinel that is also a kind of a broader one.
type subKind struct {
	msg    string
	parent error
}

func (k *subKind) Error() string { return k.msg }
func (k *subKind) Unwrap() error { return k.parent }

// kinds are the sentinels; an error carrying one already names the package
// and the condition, so opError does not prefix it again.
var kinds = []error{ErrInvalidIDToken, ErrSubjectMismatch, ErrIssuerMismatch, ErrMissingIDToken, ErrNoRefreshToken}

// opError names the operation that failed: "oauth: refresh: ...". Errors of
// one of our kinds are returned as they are ("oauth: invalid ID token: ...").
func opError(op string, err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return err
		}
	}
	return fmt.Errorf("oauth: %s: %w", op, err)
}

// ErrorResponse is an RFC 6749 §5.2 error response from an endpoint
// (error, error_description, error_uri). The fields are truncated and
// stripped of control characters; nothing else from the body is kept.
type ErrorResponse struct {
	Endpoint    string // "token", "userinfo", "revocation"
	StatusCode  int
	Code        string // e.g. invalid_grant, invalid_client
	Description string
	URI         string
}

func (e *ErrorResponse) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s endpoint: %s", e.Endpoint, e.Code)
	if e.Description != "" {
		fmt.Fprintf(&b, " (%s)", e.Description)
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " [HTTP %d]", e.StatusCode)
	}
	return b.String()
}

// IsInvalidGrant reports whether err carries an invalid_grant error response:
// the code or refresh token is expired, revoked or was never valid, so the
// user must sign in again.
func IsInvalidGrant(err error) bool {
	var er *ErrorResponse
	return errors.As(err, &er) && er.Code == "invalid_grant"
}

// HTTPError is an answer that is neither a success nor an RFC 6749 §5.2
// error response: a 5xx page, HTML where JSON was expected, a malformed
// body. It names the endpoint and status only; response bodies may echo
// tokens or codes, so none of the body is kept.
type HTTPError struct {
	Endpoint   string // "token", "userinfo", "revocation", "discovery", "jwks"
	StatusCode int    // 0 when the status was a success but the body unusable and the status unknown
	Reason     string
}

func (e *HTTPError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s endpoint: %s", e.Endpoint, e.Reason)
	}
	return fmt.Sprintf("%s endpoint: HTTP %d: %s", e.Endpoint, e.StatusCode, e.Reason)
}

// errorResponse builds an ErrorResponse from untrusted §5.2 fields. A
// provider may echo what it was sent ("code X is invalid"), and the error
// ends up in logs: each of secrets (the code, verifier, token or client
// secret of the request) is blanked out, as sent and form-encoded, before
// the fields are clipped.
func errorResponse(endpoint string, status int, code, desc, uri string, secrets []string) *ErrorResponse {
	return &ErrorResponse{
		Endpoint:    endpoint,
		StatusCode:  status,
		Code:        clip(redact(code, secrets), 64),
		Description: clip(redact(desc, secrets), 200),
		URI:         clip(redact(uri, secrets), 200),
	}
}

// redact replaces every occurrence of each secret in s, as is and
// form-encoded, with "[redacted]".
func redact(s string, secrets []string) string {
	for _, v := range secrets {
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, "[redacted]")
		if e := url.QueryEscape(v); e != v {
			s = strings.ReplaceAll(s, e, "[redacted]")
		}
	}
	return s
}

// clip keeps printable ASCII only and at most n bytes, so a provider's text
// cannot forge log lines or flood them.
func clip(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	if b.Len() < len(s) {
		b.WriteString("...")
	}
	return b.String()
}
