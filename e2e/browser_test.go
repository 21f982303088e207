package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/devserver"
	"github.com/serverless-signin/signin/pkg/session"
)

// chromiumPath is Debian's Chromium; scripts/test.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// browserTestTimeout bounds one browser test, browser start included.
const browserTimeout = 30 * time.Second

// newBrowser starts a headless Chromium with a fresh profile and returns its
// context, bounded by browserTimeout. Without Chromium the test is skipped,
// or fails when REQUIRE_BROWSER=1 (make test sets it).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		msg := chromiumPath + " not found: install Debian's chromium (apt-get install chromium) or use make test"
		if os.Getenv("REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + "; REQUIRE_BROWSER=1 forbids skipping")
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 640),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(ctx)
	t.Cleanup(cancelCtx)
	// Start the browser now so a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// startDevServer runs the dev server in-process on a loopback port with the
// built-in provider and the memory store, whatever the environment says. The
// URL says localhost, so cookies behave as they do for a developer.
func startDevServer(t *testing.T) (*devserver.Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	base := "http://localhost:" + port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := devserver.New(ctx, devserver.Config{
		URL:    base,
		Getenv: func(string) string { return "" },
		Logger: session.NewLogger(t.Output()),
	})
	if err != nil {
		t.Fatalf("devserver.New: %v", err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return srv, base
}

// pageStatus waits for the status page to finish asking /auth/me (one of the
// two buttons shows) and returns the #status text.
func pageStatus(ctx context.Context, t *testing.T, signedIn bool) string {
	t.Helper()
	button := "sign-in"
	if signedIn {
		button = "sign-out"
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID(button))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("waiting for #%s at %s: %v", button, loc, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
	if err != nil {
		t.Fatalf("read #status: %v", err)
	}
	return text
}

func TestBrowserSignInSignOut(t *testing.T) {
	ctx := newBrowser(t)
	_, base := startDevServer(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatalf("open %s/: %v", base, err)
	}
	if got := pageStatus(ctx, t, false); got != "Not signed in" {
		t.Fatalf("#status before sign-in = %q; want %q", got, "Not signed in")
	}

	// The sign-in button leads to the provider's login form.
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), devprovider.DemoUser.Username),
		chromedp.SendKeys(chromedp.ID("password"), devprovider.DemoUser.Password),
		chromedp.Click(chromedp.ID("submit")),
	)
	if err != nil {
		t.Fatalf("sign in on the provider's form: %v", err)
	}
	if got := pageStatus(ctx, t, true); !strings.HasPrefix(got, "Signed in as") {
		t.Errorf("#status after sign-in = %q; want Signed in as …", got)
	}
	if name, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("user-name"))); err != nil || name != devprovider.DemoUser.Name {
		t.Errorf("#user-name after sign-in = %q, %v; want %q", name, err, devprovider.DemoUser.Name)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != base+"/" {
		t.Errorf("location after sign-in = %q, %v; want %s/", loc, err, base)
	}

	// The session survives a reload: it is the cookie, not the page.
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	pageStatus(ctx, t, true)
	if name, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("user-name"))); err != nil || name != devprovider.DemoUser.Name {
		t.Errorf("#user-name after reload = %q, %v; want %q", name, err, devprovider.DemoUser.Name)
	}

	// The protected route answers through the session authorizer with the profile.
	status, result := callProtected(ctx, t)
	if status != "GET /api/profile: HTTP 200" || !strings.Contains(result, `"id": "`+devprovider.DemoUser.Subject+`"`) ||
		!strings.Contains(result, `"userinfo": {`) || !strings.Contains(result, `"email": "`+devprovider.DemoUser.Email+`"`) {
		t.Errorf("protected call after sign-in = %q\n%s\nwant HTTP 200 with the user and the provider's userinfo", status, result)
	}
	saveScreenshot(ctx, t, "browser-signed-in.png")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("sign-out"))); err != nil {
		t.Fatalf("click #sign-out: %v", err)
	}
	if got := pageStatus(ctx, t, false); got != "Not signed in" {
		t.Errorf("#status after sign-out = %q; want %q", got, "Not signed in")
	}

	// The same call is refused now. What the gateway answers depends on the cookies the browser
	// still sends: none at all, 401 without asking the authorizer; others, the authorizer's 403.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/api/profile"}})
	if err != nil {
		t.Fatalf("read the browser's cookies: %v", err)
	}
	var names []string
	for _, c := range cookies.Cookies {
		names = append(names, c.Name)
		if c.Name == session.CookieHTTP || c.Name == session.CookieHTTPS {
			t.Errorf("the browser still holds the session cookie %s after sign-out", c.Name)
		}
	}
	want := "GET /api/profile: HTTP 401"
	wantBody := `"message": "Unauthorized"`
	if len(names) > 0 {
		want, wantBody = "GET /api/profile: HTTP 403", `"message": "Forbidden"`
	}
	t.Logf("after sign-out the browser sends cookies %q: want %q", names, want)
	status, result = callProtected(ctx, t)
	if status != want || !strings.Contains(result, wantBody) {
		t.Errorf("protected call after sign-out (cookies sent: %q) = %q %s; want %q with %s", names, status, result, want, wantBody)
	}

	// Another cookie of the app's (a preference, say): a Cookie header reaches the authorizer,
	// which refuses it.
	if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{Name: "theme", Value: "dark", URL: base + "/", Path: "/"}); err != nil {
		t.Fatalf("set a theme cookie: %v", err)
	}
	status, result = callProtected(ctx, t)
	if status != "GET /api/profile: HTTP 403" || !strings.Contains(result, `"message": "Forbidden"`) {
		t.Errorf("protected call after sign-out with a theme cookie = %q %s; want HTTP 403 Forbidden", status, result)
	}
}

// callProtected clicks the page's "Call a protected route" button and returns the status line
// and the answer the page shows once the call is done.
func callProtected(ctx context.Context, t *testing.T) (status, result string) {
	t.Helper()
	if label, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("call-api"))); err != nil || label != "Call a protected route" {
		t.Fatalf("#call-api = %q, %v; want the button \"Call a protected route\"", label, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("call-api"))); err != nil {
		t.Fatalf("click #call-api: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("api-status")))
		if err != nil {
			t.Fatalf("read #api-status: %v", err)
		}
		if strings.Contains(text, "HTTP ") || strings.HasPrefix(text, "Could not") {
			status = text
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("#api-status = %q after 10s; want the call's answer", text)
		}
		time.Sleep(20 * time.Millisecond)
	}
	result, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID("api-result")))
	if err != nil {
		t.Fatalf("read #api-result: %v", err)
	}
	return status, result
}

// A login CSRF: the attacker signs in with their own account and lures the
// victim's browser to the callback, hoping to sign the victim in as the
// attacker. The state is bound to the attacker's browser, so the victim gets
// the 400 and the attacker's state stays usable.
func TestBrowserLoginCSRF(t *testing.T) {
	ctx := newBrowser(t)
	_, base := startDevServer(t)

	attacker := browserlessClient(t)
	resp, body := fetch(t, attacker, "GET", base+"/auth/login?return_to=/", nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("attacker GET /auth/login = %d %s; want 302", resp.StatusCode, body)
	}
	callback, err := devprovider.Authorize(t.Context(), attacker, resp.Header.Get("Location"), devprovider.DemoUser.Username, devprovider.DemoUser.Password)
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}

	// First a victim with no sign-in of its own, then one that has started
	// one (its binding cookie is set, but it is not the attacker's).
	for _, step := range []string{"fresh browser", "browser with its own pending sign-in"} {
		if step == "browser with its own pending sign-in" {
			err := chromedp.Do(ctx, chromedp.Navigate(base+"/auth/login"), chromedp.WaitVisible(chromedp.ID("username")))
			if err != nil {
				t.Fatalf("victim starts a sign-in: %v", err)
			}
		}
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(callback.String()))
		if err != nil {
			t.Fatalf("%s: open the attacker's callback: %v", step, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("%s: read the callback page: %v", step, err)
		}
		if resp.Status != http.StatusBadRequest || !strings.Contains(text, "Invalid OAuth callback") {
			t.Errorf("%s: attacker's callback = %d %q; want 400 Invalid OAuth callback", step, resp.Status, text)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatalf("%s: open /: %v", step, err)
		}
		if got := pageStatus(ctx, t, false); got != "Not signed in" {
			t.Errorf("%s: #status after the attacker's callback = %q; want %q", step, got, "Not signed in")
		}
	}

	// The victim's refusals did not spend the attacker's state.
	resp, body = fetch(t, attacker, "GET", callback.String(), nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("attacker's own callback = %d %s; want 302 (state still usable)", resp.StatusCode, body)
	}
	if _, body := fetch(t, attacker, "GET", base+"/auth/me", nil); !strings.Contains(body, `"authenticated":true`) {
		t.Errorf("attacker /auth/me = %s; want authenticated", body)
	}
}

// browserlessClient is a cookie-keeping client that stops at redirects.
func browserlessClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func fetch(t *testing.T, hc *http.Client, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return resp, string(body)
}

// saveScreenshot writes a PNG of the page to $ARTIFACTS_DIR, else to
// artifacts/ at the repository root (gitignored), and logs the path.
func saveScreenshot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Errorf("screenshot: %v", err)
			return
		}
		dir = filepath.Join(root, "artifacts")
	}
	path := filepath.Join(dir, name)
	if err := errors.Join(os.MkdirAll(dir, 0o755), os.WriteFile(path, png, 0o644)); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the signed-in page: %s", path)
}
