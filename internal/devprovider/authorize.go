package devprovider

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// maxAuthorizeSteps bounds the redirects Authorize follows (authorize, login, callback and a margin).
const maxAuthorizeSteps = 8

var (
	formActionRE = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
	requestIDRE  = regexp.MustCompile(`<input type="hidden" name="authRequestID" value="([^"]*)">`)
	loginErrorRE = regexp.MustCompile(`<p class="error" id="error" role="alert">([^<]*)</p>`)
)

// Authorize drives the provider's login form as a browser would: GET authorizeURL, follow the
// provider's redirects to its login page, POST username and password. It returns the redirect the
// provider sends to the client's redirect_uri (code and state, or error and state) without following
// it. A rejected password gives ErrInvalidCredentials. hc may carry a cookie jar; nil uses a plain
// client. authorizeURL must point at this package's provider ({issuer}/authorize?...).
func Authorize(ctx context.Context, hc *http.Client, authorizeURL, username, password string) (*url.URL, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	start, err := url.Parse(authorizeURL)
	if err != nil || !strings.HasSuffix(start.Path, PathAuthorize) {
		return nil, fmt.Errorf("devprovider: authorize URL %q does not end in %s", authorizeURL, PathAuthorize)
	}
	base := strings.TrimSuffix(start.Path, PathAuthorize)
	ours := func(u *url.URL) bool {
		if u.Scheme != start.Scheme || u.Host != start.Host {
			return false
		}
		switch strings.TrimPrefix(u.Path, base) {
		case PathAuthorize, pathAuthorizeCallback, PathLogin:
			return true
		}
		return false
	}

	c := http.Client{}
	if hc != nil {
		c = *hc
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, start.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("devprovider: authorize: %w", err)
	}
	posted := false
	for range maxAuthorizeSteps {
		resp, err := c.Do(req)
		if err != nil {
			return nil, fmt.Errorf("devprovider: authorize: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("devprovider: authorize: read %s: %w", req.URL.Path, err)
		}
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			next, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("devprovider: authorize: redirect from %s: %w", req.URL.Path, err)
			}
			if !ours(next) {
				return next, nil
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
			if err != nil {
				return nil, fmt.Errorf("devprovider: authorize: %w", err)
			}
		case resp.StatusCode == http.StatusOK && requestIDRE.Match(body):
			if posted {
				msg := "no error shown"
				if m := loginErrorRE.FindSubmatch(body); m != nil {
					msg = html.UnescapeString(string(m[1]))
				}
				return nil, fmt.Errorf("%w: %s", ErrInvalidCredentials, msg)
			}
			req, err = loginRequest(ctx, req.URL, body, username, password)
			if err != nil {
				return nil, err
			}
			posted = true
		default:
			return nil, fmt.Errorf("devprovider: authorize: %s %s: status %d: %s", req.Method, req.URL.Path, resp.StatusCode, snippet(body))
		}
	}
	return nil, fmt.Errorf("devprovider: authorize: more than %d steps", maxAuthorizeSteps)
}

func loginRequest(ctx context.Context, page *url.URL, body []byte, username, password string) (*http.Request, error) {
	action, id := formActionRE.FindSubmatch(body), requestIDRE.FindSubmatch(body)
	if action == nil {
		return nil, fmt.Errorf("devprovider: authorize: no form on the login page")
	}
	target, err := page.Parse(html.UnescapeString(string(action[1])))
	if err != nil {
		return nil, fmt.Errorf("devprovider: authorize: login form action: %w", err)
	}
	form := url.Values{
		"authRequestID": {html.UnescapeString(string(id[1]))},
		"username":      {username},
		"password":      {password},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("devprovider: authorize: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// snippet shortens a response body for an error message; op's error pages carry no secrets.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// withTimeout bounds a context when the caller gave none, so a stuck test fails instead of hanging.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, 30*time.Second)
}
