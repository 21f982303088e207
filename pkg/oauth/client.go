package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// maxBody bounds what we read from any endpoint.
const maxBody = 1 << 20

// Client is an OpenID Connect relying party for one provider and one
// confidential client. It is safe for concurrent use; build it once per
// process and reuse it.
type Client struct {
	cfg Config // defaults applied
	hc  *http.Client
	now func() time.Time
	log *slog.Logger

	explicit need       // what the configuration alone answers
	static   *endpoints // configuration + issuer-derived defaults, no discovery
	disc     discovery

	keysMu sync.Mutex
	keys   map[string]*keySet // by JWKS URL, so a rebuilt endpoint set keeps its cache
}

// need is the set of values an operation uses.
type need uint8

const (
	needAuthorize need = 1 << iota
	needToken
	needUserinfo
	needRevoke
	needEndSession
	needKeys

	// needSignIn is what SignIn, the callback's call, uses.
	needSignIn = needToken | needKeys | needUserinfo
)

// endpoints is one resolved endpoint set with everything built from it,
// so requests do no setup work.
type endpoints struct {
	issuer                                         string // expected iss
	authorize, token, userinfo, revoke, endSession string
	jwks                                           string // "" when unknown
	tokenAuth, revokeAuth                          AuthStyle
	oauth2                                         *oauth2.Config
	algs                                           []jose.SignatureAlgorithm
	keys                                           *keySet               // nil when jwks is ""
	verifier                                       *oidc.IDTokenVerifier // nil when jwks is ""
	issParameter                                   bool                  // discovery promises iss on authorization responses
	discoveryErr                                   error                 // why this set is a fallback, if it is
}

// NewClient checks cfg (see Config.Validate) and builds a Client. It does no network I/O: the
// discovery document and JWKS are fetched on first use, and never when the
// configuration already answers what an operation needs.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg.withDefaults(), hc: cfg.HTTPClient, now: cfg.Now, keys: map[string]*keySet{}}
	if c.hc == nil {
		c.hc = &http.Client{
			// OAuth endpoints have no business redirecting; following a 307
			// would resend the client secret to wherever it points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log = cfg.Logger; c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.disc.c = c

	cf := &c.cfg
	secretKnown := cf.AuthStyle != AuthStyleAuto || cf.ClientSecret == ""
	for _, e := range []struct {
		n  need
		ok bool
	}{
		{needAuthorize, cf.AuthorizeURL != ""},
		{needToken, cf.TokenURL != "" && secretKnown},
		{needUserinfo, cf.UserinfoURL != ""},
		{needRevoke, cf.RevokeURL != "" && secretKnown},
		{needEndSession, cf.EndSessionURL != ""},
		{needKeys, cf.JWKSURL != "" && len(cf.SigningAlgs) > 0},
	} {
		if e.ok {
			c.explicit |= e.n
		}
	}
	c.static = c.endpointsFrom(nil)
	return c, nil
}

// Config returns the configuration in use, with the defaults of the zero
// durations and scopes filled in.
func (c *Client) Config() Config {
	cfg := c.cfg
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.SigningAlgs = slices.Clone(cfg.SigningAlgs)
	return cfg
}

// Issuer returns the configured issuer identifier: the one an iss
// parameter on the callback must name (RFC 9207).
func (c *Client) Issuer() string { return c.cfg.Issuer }

// IssParameterSupported reports whether the provider promises an iss
// parameter on every authorization response (RFC 9207 §3): the discovery
// document advertises authorization_response_iss_parameter_supported: true.
// A callback that gets no iss must then fail as if iss named another issuer.
//
// The document is the one SignIn uses, fetched and cached the same way, so
// calling this before SignIn costs no extra round trip. It is false when
// the configuration alone answers everything SignIn needs (no discovery),
// and while discovery fails (SignIn then uses the issuer-derived
// endpoints): in both cases only an iss naming another issuer can be
// refused.
func (c *Client) IssParameterSupported(ctx context.Context) bool {
	eps, err := c.resolve(ctx, needSignIn)
	return err == nil && eps.issParameter
}

// endpointsFrom merges, per value, the explicit configuration, the
// discovery document m (nil: none) and the issuer-derived defaults.
func (c *Client) endpointsFrom(m *metadata) *endpoints {
	cf := &c.cfg
	if m == nil {
		m = &metadata{Issuer: cf.Issuer}
	}
	pick := func(explicit, discovered, path string) string {
		switch {
		case explicit != "":
			return explicit
		case discovered != "":
			return discovered
		case path != "":
			return issuerURL(cf.Issuer, path)
		}
		return ""
	}
	e := &endpoints{
		issuer:       m.Issuer,
		authorize:    pick(cf.AuthorizeURL, m.AuthorizationEndpoint, "/authorize"),
		token:        pick(cf.TokenURL, m.TokenEndpoint, "/oauth/token"),
		userinfo:     pick(cf.UserinfoURL, m.UserinfoEndpoint, "/userinfo"),
		revoke:       pick(cf.RevokeURL, m.RevocationEndpoint, "/revoke"),
		endSession:   pick(cf.EndSessionURL, m.EndSessionEndpoint, "/end_session"),
		jwks:         pick(cf.JWKSURL, m.JWKSURI, ""),
		tokenAuth:    c.authStyle(m.TokenEndpointAuthMethods),
		issParameter: bool(m.IssParameterSupported),
	}
	e.revokeAuth = e.tokenAuth
	if len(m.RevocationEndpointAuthMethods) > 0 {
		e.revokeAuth = c.authStyle(m.RevocationEndpointAuthMethods)
	}
	style := oauth2.AuthStyleInHeader
	if e.tokenAuth == AuthStylePost {
		style = oauth2.AuthStyleInParams
	}
	e.oauth2 = &oauth2.Config{
		ClientID:     cf.ClientID,
		ClientSecret: cf.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: e.authorize, TokenURL: e.token, AuthStyle: style},
		Scopes:       cf.Scopes,
	}
	algs := signingAlgs(cf.SigningAlgs, m.IDTokenSigningAlgs)
	e.algs = joseAlgs(algs)
	if e.jwks != "" {
		e.keys = c.keySet(e.jwks)
		e.verifier = oidc.NewVerifier(e.issuer, e.keys, &oidc.Config{
			ClientID:             cf.ClientID,
			SupportedSigningAlgs: algs,
			// exp is checked by verify with ClockSkew leeway; go-oidc has none.
			SkipExpiryCheck: true,
			Now:             c.now,
		})
	}
	return e
}

// authStyle resolves AuthStyleAuto against the methods a provider advertises.
func (c *Client) authStyle(advertised []string) AuthStyle {
	switch {
	case c.cfg.ClientSecret == "":
		return AuthStylePost // a public client sends its client_id in the body
	case c.cfg.AuthStyle != AuthStyleAuto:
		return c.cfg.AuthStyle
	case len(advertised) == 0 || slices.Contains(advertised, "client_secret_basic"):
		return AuthStyleBasic // the OpenID default
	case slices.Contains(advertised, "client_secret_post"):
		return AuthStylePost
	}
	return AuthStyleBasic
}

func (c *Client) keySet(url string) *keySet {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	k, ok := c.keys[url]
	if !ok {
		k = &keySet{c: c, url: url}
		c.keys[url] = k
	}
	return k
}

// resolve returns the endpoint set for an operation that uses n: the
// configuration alone when it answers n (no network), else the discovery
// document, else (discovery failed) the issuer-derived defaults. A
// discovery document naming another issuer is never fallen back from.
func (c *Client) resolve(ctx context.Context, n need) (*endpoints, error) {
	if c.explicit&n == n {
		return c.static, nil
	}
	eps, err := c.disc.get(ctx)
	if err == nil {
		return eps, nil
	}
	if isPermanent(err) || ctx.Err() != nil {
		return nil, err
	}
	fallback := *c.static
	fallback.discoveryErr = err
	return &fallback, nil
}

// withTimeout bounds one outbound call.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.cfg.Timeout)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs req with the client's HTTP client and reads a bounded body.
// Errors name the endpoint, never the body.
func (c *Client) send(req *http.Request, endpoint string) (*response, error) {
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s endpoint: %w", endpoint, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s endpoint: read response: %w", endpoint, err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: body}, nil
}

// transportError reports whether err came from the network or a deadline
// rather than from a response, so its text holds no body.
func transportError(err error) bool {
	var ue interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.As(err, &ue)
}
