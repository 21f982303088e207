package devprovider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// authRequestLifetime bounds how long a user may sit on the login page.
	authRequestLifetime = 30 * time.Minute
	// codeLifetime is RFC 6749 §4.1.2's recommended maximum.
	codeLifetime  = 10 * time.Minute
	idTokenExpiry = time.Hour
)

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

// storage is op.Storage in memory. Every method takes the one mutex; values handed to op are copies,
// so a login completing concurrently never races with op reading a request.
type storage struct {
	issuer               string
	accessTokenLifetime  time.Duration
	refreshTokenLifetime time.Duration
	key                  *rsa.PrivateKey
	keyID                string

	mu            sync.Mutex
	clients       map[string]*Client
	users         []User
	authRequests  map[string]*authRequest
	codes         map[string]issuedCode
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken
}

type issuedCode struct {
	requestID string
	issued    time.Time
}

type accessToken struct {
	id, clientID, subject, refreshToken string
	scopes                              []string
	expiry                              time.Time
}

type refreshToken struct {
	token, clientID, subject, accessTokenID string
	scopes, amr                             []string
	authTime, expiry                        time.Time
}

func newStorage(issuer string, opts Options, key *rsa.PrivateKey) (*storage, error) {
	s := &storage{
		issuer:               issuer,
		accessTokenLifetime:  opts.AccessTokenLifetime,
		refreshTokenLifetime: opts.RefreshTokenLifetime,
		key:                  key,
		keyID:                rand.Text(),
		clients:              make(map[string]*Client),
		authRequests:         make(map[string]*authRequest),
		codes:                make(map[string]issuedCode),
		accessTokens:         make(map[string]*accessToken),
		refreshTokens:        make(map[string]*refreshToken),
	}
	for _, c := range opts.Clients {
		if c.ID == "" || c.Secret == "" {
			return nil, errors.New("devprovider: every client needs an ID and a secret")
		}
		c.RedirectURIs = slices.Clone(c.RedirectURIs)
		c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
		s.clients[c.ID] = &c
	}
	for _, u := range opts.Users {
		if u.Subject == "" || u.Username == "" {
			return nil, errors.New("devprovider: every user needs a subject and a username")
		}
	}
	s.users = slices.Clone(opts.Users)
	return s, nil
}

func (s *storage) allowRedirectURI(clientID, uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return
	}
	if !slices.Contains(c.RedirectURIs, uri) {
		c.RedirectURIs = append(c.RedirectURIs, uri)
	}
	if !slices.Contains(c.PostLogoutRedirectURIs, uri) {
		c.PostLogoutRedirectURIs = append(c.PostLogoutRedirectURIs, uri)
	}
}

func (s *storage) userBySubject(sub string) (User, bool) {
	for _, u := range s.users {
		if u.Subject == sub {
			return u, true
		}
	}
	return User{}, false
}

// errLoginRequestNotFound: the login form names an auth request that is unknown or too old.
var errLoginRequestNotFound = errors.New("devprovider: sign-in request not found or expired")

// login checks the credentials and completes the auth request. It returns ErrInvalidCredentials or
// errLoginRequestNotFound on failure.
func (s *storage) login(id, username, password string) (clientID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok || time.Since(req.created) > authRequestLifetime {
		return "", errLoginRequestNotFound
	}
	for _, u := range s.users {
		// Compare both in constant time so a wrong username and a wrong password look alike.
		userOK := subtle.ConstantTimeCompare([]byte(u.Username), []byte(username)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
		if userOK && passOK {
			req.subject = u.Subject
			req.done = true
			req.authTime = time.Now()
			return req.clientID, nil
		}
	}
	return req.clientID, ErrInvalidCredentials
}

// loginHint returns the first user, shown on the login page, and the request's client id.
func (s *storage) loginPage(id string) (hint User, clientID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, found := s.authRequests[id]
	if !found || time.Since(req.created) > authRequestLifetime {
		return User{}, "", false
	}
	return s.users[0], req.clientID, true
}

// sweep drops expired entries so a long-running dev server does not grow without bound.
func (s *storage) sweep(now time.Time) {
	for id, r := range s.authRequests {
		if now.Sub(r.created) > authRequestLifetime {
			delete(s.authRequests, id)
		}
	}
	for code, c := range s.codes {
		if now.Sub(c.issued) > codeLifetime {
			delete(s.codes, code)
		}
	}
	for id, t := range s.accessTokens {
		if now.After(t.expiry) {
			delete(s.accessTokens, id)
		}
	}
	for tok, t := range s.refreshTokens {
		if now.After(t.expiry) {
			delete(s.refreshTokens, tok)
		}
	}
}

// CreateAuthRequest runs after op validated client, redirect_uri, scopes and response type.
func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	// PKCE is mandatory here (op alone accepts requests without it). The redirect_uri is already
	// validated, so op redirects this error to the client like a real provider would.
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge with code_challenge_method=S256 is required")
	}
	// No provider-side login session exists, so there is nobody to sign in silently.
	if slices.Contains(r.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	scopes := slices.Clone([]string(r.Scopes))
	// op issues a refresh token only for offline_access; this provider issues one on every code
	// exchange, as the Agentuity issuer does.
	if !slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	req := &authRequest{
		id:            rand.Text(),
		created:       time.Now(),
		clientID:      r.ClientID,
		redirectURI:   r.RedirectURI,
		state:         r.State,
		nonce:         r.Nonce,
		scopes:        scopes,
		responseType:  r.ResponseType,
		responseMode:  r.ResponseMode,
		codeChallenge: r.CodeChallenge,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(req.created)
	s.authRequests[req.id] = req
	return req.copy(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok || time.Since(req.created) > authRequestLifetime {
		return nil, errors.New("auth request not found")
	}
	return req.copy(), nil
}

// AuthRequestByCode redeems a code: it is removed at the first lookup, so a code works at most once
// even when two exchanges race.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[code]
	delete(s.codes, code)
	if !ok || time.Since(c.issued) > codeLifetime {
		return nil, errors.New("code not found or expired")
	}
	req, ok := s.authRequests[c.requestID]
	if !ok || !req.done {
		return nil, errors.New("code not found or expired")
	}
	return req.copy(), nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = issuedCode{requestID: id, issued: time.Now()}
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, c := range s.codes {
		if c.requestID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// CreateAccessToken serves requests that get no refresh token; with offline_access always added it is
// reached only by grants this provider does not offer.
func (s *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	clientID, _, _ := tokenRequestInfo(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.newAccessToken(clientID, r.GetSubject(), "", r.GetScopes())
	return t.id, t.expiry, nil
}

// CreateAccessAndRefreshTokens issues tokens for a code exchange (currentRefreshToken empty) or
// rotates a refresh token: the presented one stops working the moment a new one is issued.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, r op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	clientID, authTime, amr := tokenRequestInfo(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if currentRefreshToken != "" {
		old, ok := s.refreshTokens[currentRefreshToken]
		// Checked again under the lock: two refreshes with one token both pass
		// TokenRequestByRefreshToken, but only the first may rotate it.
		if !ok || time.Now().After(old.expiry) || old.clientID != clientID {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token is invalid, expired or already used")
		}
		delete(s.refreshTokens, currentRefreshToken)
		delete(s.accessTokens, old.accessTokenID)
		authTime, amr = old.authTime, old.amr
	}
	rt := &refreshToken{
		token:    rand.Text() + rand.Text(),
		clientID: clientID,
		subject:  r.GetSubject(),
		scopes:   slices.Clone(r.GetScopes()),
		amr:      amr,
		authTime: authTime,
		expiry:   time.Now().Add(s.refreshTokenLifetime),
	}
	at := s.newAccessToken(clientID, r.GetSubject(), rt.token, r.GetScopes())
	rt.accessTokenID = at.id
	s.refreshTokens[rt.token] = rt
	return at.id, rt.token, at.expiry, nil
}

// newAccessToken must be called with s.mu held.
func (s *storage) newAccessToken(clientID, subject, refresh string, scopes []string) *accessToken {
	t := &accessToken{
		id:           rand.Text(),
		clientID:     clientID,
		subject:      subject,
		refreshToken: refresh,
		scopes:       slices.Clone(scopes),
		expiry:       time.Now().Add(s.accessTokenLifetime),
	}
	s.accessTokens[t.id] = t
	return t
}

func tokenRequestInfo(r op.TokenRequest) (clientID string, authTime time.Time, amr []string) {
	switch r := r.(type) {
	case *authRequest:
		return r.clientID, r.authTime, r.GetAMR()
	case *refreshTokenRequest:
		return r.clientID, r.authTime, r.amr
	}
	return "", time.Time{}, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || time.Now().After(rt.expiry) {
		return nil, errors.New("refresh token is invalid, expired or already used")
	}
	return &refreshTokenRequest{
		clientID: rt.clientID,
		subject:  rt.subject,
		scopes:   slices.Clone(rt.scopes),
		amr:      rt.amr,
		authTime: rt.authTime,
	}, nil
}

// TerminateSession is called by end_session. The provider keeps no login session (every sign-in shows
// the form), and tokens end by revocation, so there is nothing to end: another browser of the same
// user keeps its tokens, as with most hosted providers.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

// RevokeToken revokes an access token (by id) or a refresh token (by value, taking its current access
// token with it). Unknown tokens succeed, as RFC 7009 §2.2 requires.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.accessTokens[tokenOrID]; ok {
		if at.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, tokenOrID)
		return nil
	}
	if rt, ok := s.refreshTokens[tokenOrID]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refreshTokens, tokenOrID)
		delete(s.accessTokens, rt.accessTokenID)
	}
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keyID, key: s.key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return &client{
		id:                     c.ID,
		redirectURIs:           slices.Clone(c.RedirectURIs),
		postLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs),
		loginURL:               s.issuer + PathLogin + "?authRequestID=",
	}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return errors.New("invalid client credentials")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims (email and name included: the client sets
// IDTokenUserinfoClaimsAssertion).
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setUserinfo(info, r.GetSubject(), scopes)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.accessTokens[tokenID]
	if !ok || at.subject != subject || time.Now().After(at.expiry) {
		return oidc.ErrInvalidRequest().WithDescription("access token is invalid or expired")
	}
	return s.setUserinfo(info, at.subject, at.scopes)
}

// setUserinfo must be called with s.mu held.
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.userBySubject(subject)
	if !ok {
		return fmt.Errorf("devprovider: unknown user %q", subject)
	}
	info.Subject = u.Subject
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		}
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.accessTokens[tokenID]
	if !ok || at.subject != subject || at.clientID != clientID || time.Now().After(at.expiry) {
		return errors.New("token is not active")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, at.subject, at.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = at.scopes
	resp.ClientID = at.clientID
	resp.Expiration = oidc.FromTime(at.expiry)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID backs private_key_jwt and the JWT profile grant, neither of which is offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("client keys are not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// authRequest is op.AuthRequest; op only ever sees copies.
type authRequest struct {
	id, clientID, redirectURI, state, nonce, codeChallenge string
	created                                                time.Time
	scopes                                                 []string
	responseType                                           oidc.ResponseType
	responseMode                                           oidc.ResponseMode

	subject  string
	done     bool
	authTime time.Time
}

func (a *authRequest) copy() *authRequest {
	c := *a
	c.scopes = slices.Clone(a.scopes)
	return &c
}

// LogValue keeps state, nonce and the code challenge out of op's logs.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", a.id),
		slog.String("client_id", a.clientID),
		slog.String("redirect_uri", a.redirectURI),
		slog.Any("scopes", a.scopes),
	)
}

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAudience() []string  { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.clientID }
func (a *authRequest) GetNonce() string       { return a.nonce }
func (a *authRequest) GetRedirectURI() string { return a.redirectURI }
func (a *authRequest) GetScopes() []string    { return a.scopes }
func (a *authRequest) GetState() string       { return a.state }
func (a *authRequest) GetSubject() string     { return a.subject }
func (a *authRequest) Done() bool             { return a.done }

func (a *authRequest) GetResponseType() oidc.ResponseType { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.responseMode }

func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.codeChallenge, Method: oidc.CodeChallengeMethodS256}
}

// refreshTokenRequest is op.RefreshTokenRequest, a snapshot of a stored refresh token.
type refreshTokenRequest struct {
	clientID, subject string
	scopes, amr       []string
	authTime          time.Time
}

func (r *refreshTokenRequest) GetAMR() []string                 { return r.amr }
func (r *refreshTokenRequest) GetAudience() []string            { return []string{r.clientID} }
func (r *refreshTokenRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshTokenRequest) GetClientID() string              { return r.clientID }
func (r *refreshTokenRequest) GetScopes() []string              { return r.scopes }
func (r *refreshTokenRequest) GetSubject() string               { return r.subject }
func (r *refreshTokenRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// client is op.Client for a confidential web client using the code flow.
type client struct {
	id                                   string
	redirectURIs, postLogoutRedirectURIs []string
	loginURL                             string
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.postLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) LoginURL(id string) string                                    { return c.loginURL + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType                          { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration                               { return idTokenExpiry }
func (c *client) DevMode() bool                                                { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string     { return keepScopes }
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string { return keepScopes }
func (c *client) IsScopeAllowed(string) bool                                   { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool                         { return true }
func (c *client) ClockSkew() time.Duration                                     { return 0 }

func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}

func keepScopes(scopes []string) []string { return scopes }

// signingKey and publicKey are op.SigningKey and op.Key for the provider's one RSA key.
type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }
