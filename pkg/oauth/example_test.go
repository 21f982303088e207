package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"
	"time"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/signin"
)

const exampleRedirectURI = "http://127.0.0.1:9/auth/callback"

// startExample runs an in-process OpenID provider for the examples and
// returns a client registered at it.
func startExample() (*devprovider.Provider, *oauth.Client) {
	p, err := devprovider.Start(devprovider.Options{})
	if err != nil {
		log.Fatal(err)
	}
	p.AllowRedirectURI(devprovider.DefaultClientID, exampleRedirectURI)
	client, err := oauth.NewClient(oauth.Config{
		Issuer:       p.Issuer(),
		ClientID:     devprovider.DefaultClientID,
		ClientSecret: devprovider.DefaultClientSecret,
	})
	if err != nil {
		log.Fatal(err)
	}
	return p, client
}

// signInExample runs the browser part of a sign-in and returns its result.
func signInExample(ctx context.Context, client *oauth.Client) signin.Result {
	authURL, req, err := client.AuthCodeURL(ctx, exampleRedirectURI)
	if err != nil {
		log.Fatal(err)
	}
	callback, err := devprovider.Authorize(ctx, nil, authURL, "demo", "demo")
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.SignIn(ctx, callback.Query().Get("code"), req)
	if err != nil {
		log.Fatal(err)
	}
	return res
}

// The whole flow of a confidential web app: start the sign-in, complete it
// at the callback, refresh, and sign out.
func Example() {
	p, err := devprovider.Start(devprovider.Options{}) // any OpenID provider
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	p.AllowRedirectURI(devprovider.DefaultClientID, exampleRedirectURI)

	// Once per process (a Lambda cold start). No network I/O here.
	client, err := oauth.NewClient(oauth.Config{
		Issuer:       p.Issuer(),
		ClientID:     devprovider.DefaultClientID,
		ClientSecret: devprovider.DefaultClientSecret,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// GET /auth/login: keep req (state, nonce, PKCE verifier, redirect URI)
	// server-side, bound to the browser, and redirect it to authURL.
	authURL, req, err := client.AuthCodeURL(ctx, exampleRedirectURI)
	if err != nil {
		log.Fatal(err)
	}

	// The user signs in at the provider, which redirects the browser back.
	callback, err := devprovider.Authorize(ctx, nil, authURL, "demo", "demo")
	if err != nil {
		log.Fatal(err)
	}

	// GET /auth/callback: the state must be the one remembered (used once),
	// and iss, when sent or required, the configured issuer (RFC 9207).
	q := callback.Query()
	if q.Get("state") != req.State {
		log.Fatal("state mismatch")
	}
	if iss := q.Get("iss"); iss != "" && iss != client.Issuer() ||
		iss == "" && client.IssParameterSupported(ctx) {
		log.Fatal("iss mismatch")
	}
	res, err := client.SignIn(ctx, q.Get("code"), req)
	if err != nil {
		log.Fatal(err) // log it; show the user a generic error
	}
	fmt.Println("signed in:", res.User.Subject, res.User.Email)

	// Later, before calling an API for the user.
	tok := res.Token
	if !tok.Usable(time.Now(), time.Minute) {
		if tok, err = client.Refresh(ctx, tok); errors.Is(err, signin.ErrGrantEnded) {
			log.Fatal("sign in again")
		} else if err != nil {
			log.Fatal(err)
		}
	}

	// POST /auth/logout.
	if err := client.Revoke(ctx, tok.RefreshToken, "refresh_token"); err != nil {
		log.Print(err) // best effort: the local session ends anyway
	}
	logout, err := client.EndSessionURL(ctx, tok.IDToken, exampleRedirectURI, "")
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(logout)
	fmt.Println("then redirect to", u.Path)
	// Output:
	// signed in: demo-user-0001 demo@example.com
	// then redirect to /end_session
}

// With the authorize endpoint configured, starting a sign-in needs no
// network at all: the login function stays one DynamoDB write.
func ExampleClient_AuthCodeURL() {
	client, err := oauth.NewClient(oauth.Config{
		Issuer:       "https://id.example",
		ClientID:     "my-app",
		AuthorizeURL: "https://id.example/authorize",
		Prompt:       "login",
	})
	if err != nil {
		log.Fatal(err)
	}
	authURL, req, err := client.AuthCodeURL(context.Background(), "https://app.example/auth/callback")
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	fmt.Println(u.Host + u.Path)
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "prompt", "code_challenge_method"} {
		fmt.Printf("%s=%s\n", k, q.Get(k))
	}
	fmt.Println(q.Get("state") == req.State, q.Get("nonce") == req.Nonce, q.Get("code_challenge") != "")
	// Output:
	// id.example/authorize
	// response_type=code
	// client_id=my-app
	// redirect_uri=https://app.example/auth/callback
	// scope=openid profile email
	// prompt=login
	// code_challenge_method=S256
	// true true true
}

func ExampleClient_SignIn() {
	p, client := startExample()
	defer p.Close()
	ctx := context.Background()

	authURL, req, err := client.AuthCodeURL(ctx, exampleRedirectURI)
	if err != nil {
		log.Fatal(err)
	}
	callback, err := devprovider.Authorize(ctx, nil, authURL, "demo", "demo")
	if err != nil {
		log.Fatal(err)
	}
	// Exchange (with the PKCE verifier and redirect URI), ID token
	// verification (with the nonce) and userinfo (same sub) in one call.
	res, err := client.SignIn(ctx, callback.Query().Get("code"), req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.User.Subject, res.User.Name, res.Issuer == p.Issuer(), res.Token.RefreshToken != "")

	// The wrong nonce (another browser's sign-in) is refused.
	authURL, req, _ = client.AuthCodeURL(ctx, exampleRedirectURI)
	callback, _ = devprovider.Authorize(ctx, nil, authURL, "demo", "demo")
	req.Nonce = "not-this-one"
	_, err = client.SignIn(ctx, callback.Query().Get("code"), req)
	fmt.Println(errors.Is(err, oauth.ErrNonceMismatch), errors.Is(err, oauth.ErrInvalidIDToken))
	// Output:
	// demo-user-0001 Demo User true true
	// true true
}

func ExampleClient_Refresh() {
	p, client := startExample()
	defer p.Close()
	ctx := context.Background()
	tok := signInExample(ctx, client).Token

	fresh, err := client.Refresh(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fresh.AccessToken != tok.AccessToken, fresh.RefreshToken != "")

	// A revoked (or expired, or rotated-out) refresh token: sign in again.
	if err := client.Revoke(ctx, fresh.RefreshToken, "refresh_token"); err != nil {
		log.Fatal(err)
	}
	_, err = client.Refresh(ctx, fresh)
	fmt.Println(errors.Is(err, signin.ErrGrantEnded), oauth.IsInvalidGrant(err))
	// Output:
	// true true
	// true true
}

func ExampleClient_EndSessionURL() {
	client, err := oauth.NewClient(oauth.Config{
		Issuer:        "https://id.example",
		ClientID:      "my-app",
		EndSessionURL: "https://id.example/end_session",
	})
	if err != nil {
		log.Fatal(err)
	}
	u, err := client.EndSessionURL(context.Background(), "eyJ.id.token", "https://app.example/", "xyz")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u)
	// Output:
	// https://id.example/end_session?client_id=my-app&id_token_hint=eyJ.id.token&post_logout_redirect_uri=https%3A%2F%2Fapp.example%2F&state=xyz
}

// The /api/profile of an app: what userinfo says about the signed-in user,
// beyond the subject, email and name the session keeps.
func ExampleClient_UserInfo() {
	p, client := startExample()
	defer p.Close()
	ctx := context.Background()
	res := signInExample(ctx, client)

	info, err := client.UserInfo(ctx, res.Token.AccessToken, res.User.Subject)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Subject, info.Email, info.EmailVerified, info.Claims["email"])

	// An access token that is not the signed-in user's is refused.
	_, err = client.UserInfo(ctx, res.Token.AccessToken, "someone-else")
	fmt.Println(errors.Is(err, oauth.ErrSubjectMismatch))
	// Output:
	// demo-user-0001 demo@example.com true demo@example.com
	// true
}

func ExampleErrorResponse() {
	p, client := startExample()
	defer p.Close()

	_, err := client.Refresh(context.Background(), signin.Token{RefreshToken: "made-up"})
	var er *oauth.ErrorResponse
	if errors.As(err, &er) {
		fmt.Println(er.Endpoint, er.Code, oauth.IsInvalidGrant(err))
	}
	// Output:
	// token invalid_grant true
}
