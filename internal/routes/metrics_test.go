package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/serverless-signin/signin/internal/emf"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// failingStore fails one store method as DynamoDB being down would.
type failingStore struct {
	store.Store
	method string
}

func (s failingStore) fail(method string) error {
	if s.method == method {
		return fmt.Errorf("store: %s: %w: connection refused", strings.ToLower(method), store.ErrUnavailable)
	}
	return nil
}

func (s failingStore) PutState(ctx context.Context, st store.State) error {
	if err := s.fail("PutState"); err != nil {
		return err
	}
	return s.Store.PutState(ctx, st)
}

func (s failingStore) CreateSession(ctx context.Context, sess store.Session, t store.Tokens) error {
	if err := s.fail("CreateSession"); err != nil {
		return err
	}
	return s.Store.CreateSession(ctx, sess, t)
}

// panickingConsume panics where the callback consumes its state.
type panickingConsume struct{ store.Store }

func (panickingConsume) ConsumeState(context.Context, string, string) (store.State, error) {
	panic("boom")
}

// emfDoc is the "_aws" member of an embedded metric format document.
type emfDoc struct {
	AWS *struct {
		Timestamp         *int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

// checkEMF asserts that line is a valid EMF document counting metric once
// for route (and reason, when not empty): CloudWatch's namespace, the metric
// with unit Count, dimension sets [route] (and [route, reason]) whose keys
// are string members of the line, and the metric's value 1 on the line.
func checkEMF(t *testing.T, raw string, route string, metric emf.Metric, reason string) {
	t.Helper()
	var line map[string]any
	var doc emfDoc
	if err := json.Unmarshal([]byte(raw), &line); err != nil {
		t.Fatalf("log line %q: %v", raw, err)
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.AWS == nil {
		t.Fatalf("log line has no _aws metadata (%v): %s", err, raw)
	}
	if doc.AWS.Timestamp == nil || *doc.AWS.Timestamp <= 0 {
		t.Errorf("_aws.Timestamp = %v; want epoch milliseconds: %s", doc.AWS.Timestamp, raw)
	}
	if len(doc.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("CloudWatchMetrics = %+v; want one directive: %s", doc.AWS.CloudWatchMetrics, raw)
	}
	d := doc.AWS.CloudWatchMetrics[0]
	if d.Namespace != emf.Namespace {
		t.Errorf("Namespace = %q; want %q", d.Namespace, emf.Namespace)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Name != string(metric) || d.Metrics[0].Unit != "Count" {
		t.Errorf("Metrics = %+v; want [{%s Count}]", d.Metrics, metric)
	}
	wantDims := [][]string{{emf.RouteKey}}
	if reason != "" {
		wantDims = append(wantDims, []string{emf.RouteKey, emf.ReasonKey})
	}
	if !slices.EqualFunc(d.Dimensions, wantDims, slices.Equal) {
		t.Errorf("Dimensions = %v; want %v", d.Dimensions, wantDims)
	}
	for _, set := range d.Dimensions {
		for _, k := range set {
			if _, ok := line[k].(string); !ok {
				t.Errorf("dimension %q is not a string member of the line: %s", k, raw)
			}
		}
	}
	if v, ok := line[string(metric)].(float64); !ok || v != 1 {
		t.Errorf("%s = %v; want 1: %s", metric, line[string(metric)], raw)
	}
	if line[emf.RouteKey] != route {
		t.Errorf("%s = %v; want %q", emf.RouteKey, line[emf.RouteKey], route)
	}
	if got, _ := line[emf.ReasonKey].(string); got != reason {
		t.Errorf("%s = %q; want %q: %s", emf.ReasonKey, got, reason, raw)
	}
}

// lastLine is the last log line written.
func lastLine(t *testing.T, logs string) string {
	t.Helper()
	lines := slices.Collect(strings.Lines(logs))
	if len(lines) == 0 {
		t.Fatal("no log line")
	}
	return lines[len(lines)-1]
}

// Each counted outcome's request line is an EMF document with the right
// metric, dimensions and reason; every other line counts nothing.
func TestMetrics(t *testing.T) {
	type want struct {
		route  string
		status int
		metric emf.Metric // "": the line counts nothing
		reason string
	}
	tests := []struct {
		name  string
		setup setup
		// run sends the requests; the last one's line is checked.
		run  func(t *testing.T, a *app)
		want want
	}{
		{"sign-in", setup{}, func(t *testing.T, a *app) {
			a.browser().signIn("")
		}, want{"callback", 302, emf.SignIns, ""}},
		{"invalid callback", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.login("")
			b.get("/auth/callback?code=c")
		}, want{"callback", 400, emf.SignInFailures, emf.ReasonInvalidCallback}},
		{"unknown state", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.login("")
			b.get("/auth/callback?code=c&state=unknown")
		}, want{"callback", 400, emf.SignInFailures, emf.ReasonInvalidCallback}},
		{"provider denied", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			state := b.login("").Query().Get("state")
			b.get("/auth/callback?error=access_denied&state=" + url.QueryEscape(state))
		}, want{"callback", 400, emf.SignInFailures, emf.ReasonProviderDenied}},
		{"issuer mismatch", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.get(b.authorize(b.login("")) + "&iss=" + url.QueryEscape("https://evil.example"))
		}, want{"callback", 500, emf.SignInFailures, emf.ReasonIssuerMismatch}},
		{"exchange refused", setup{}, func(t *testing.T, a *app) {
			used := mustQuery(t, a.browser().signInTarget())
			other := a.browser()
			state := other.login("").Query().Get("state")
			other.get("/auth/callback?code=" + url.QueryEscape(used.Get("code")) + "&state=" + url.QueryEscape(state))
		}, want{"callback", 500, emf.SignInFailures, emf.ReasonProvider}},
		{"session not stored", setup{store: func(s store.Store) store.Store { return failingStore{s, "CreateSession"} }}, func(t *testing.T, a *app) {
			b := a.browser()
			b.get(b.authorize(b.login("")))
		}, want{"callback", 500, emf.SignInFailures, emf.ReasonStorage}},
		{"panic", setup{store: func(s store.Store) store.Store { return panickingConsume{s} }}, func(t *testing.T, a *app) {
			b := a.browser()
			b.get(b.authorize(b.login("")))
		}, want{"callback", 500, emf.SignInFailures, emf.ReasonInternal}},
		{"login", setup{}, func(t *testing.T, a *app) {
			a.browser().login("")
		}, want{"login", 302, "", ""}},
		{"state not stored", setup{store: func(s store.Store) store.Store { return failingStore{s, "PutState"} }}, func(t *testing.T, a *app) {
			a.browser().get("/auth/login")
		}, want{"login", 500, emf.SignInFailures, emf.ReasonStorage}},
		{"sign-out", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.signIn("")
			b.logout(nil)
		}, want{"logout", 302, emf.SignOuts, ""}},
		{"cross-site logout", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.signIn("")
			b.logout(map[string]string{"origin": "https://evil.example", "sec-fetch-site": "cross-site"})
		}, want{"logout", 403, "", ""}},
		{"me", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.signIn("")
			b.get("/auth/me")
		}, want{"me", 200, "", ""}},
		{"me signed out", setup{}, func(t *testing.T, a *app) {
			b := a.browser()
			b.jar[sessionCookie(true)] = strings.Repeat("A", 43)
			b.get("/auth/me")
		}, want{"me", 401, "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.setup)
			tt.run(t, a)
			raw := lastLine(t, a.logs.String())
			var line map[string]any
			if err := json.Unmarshal([]byte(raw), &line); err != nil {
				t.Fatalf("log line %q: %v", raw, err)
			}
			if line["route"] != tt.want.route || line["status"] != float64(tt.want.status) {
				t.Fatalf("last line = route %v status %v; want %s %d: %s", line["route"], line["status"], tt.want.route, tt.want.status, raw)
			}
			if tt.want.metric == "" {
				for _, k := range []string{"_aws", emf.ReasonKey, string(emf.SignIns), string(emf.SignInFailures), string(emf.SignOuts)} {
					if _, ok := line[k]; ok {
						t.Errorf("line has %q; want no metric: %s", k, raw)
					}
				}
				return
			}
			checkEMF(t, raw, tt.want.route, tt.want.metric, tt.want.reason)
		})
	}
}

// A login or callback built without a provider (the me-only wiring) is a
// configuration gap: counted, as internal.
func TestMetricsNoProvider(t *testing.T) {
	for _, target := range []string{"/auth/login", "/auth/callback?code=c&state=s"} {
		t.Run(target, func(t *testing.T) {
			logs := &logBuffer{}
			c := newClock()
			h := newHandler(nil, store.NewMemory(), options{Logger: session.NewLogger(logs), Now: c.Now})
			a := &app{t: t, h: h, logs: logs, clock: c, scheme: "https"}
			b := a.browser()
			b.jar[bindingCookie(true)] = strings.Repeat("A", 43)
			if resp := b.get(target); resp.StatusCode != 500 {
				t.Fatalf("GET %s = %d; want 500", target, resp.StatusCode)
			}
			route := strings.TrimPrefix(strings.SplitN(target, "?", 2)[0], "/auth/")
			checkEMF(t, lastLine(t, logs.String()), route, emf.SignInFailures, emf.ReasonInternal)
		})
	}
}
