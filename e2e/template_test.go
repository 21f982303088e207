package e2e

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/signin"
	"github.com/serverless-signin/signin/pkg/store"
)

// samFunction is one function of template.yaml: its logical id, its main package, its HTTP API
// route and its MemorySize (only shown in the emulator's REPORT lines).
type samFunction struct {
	logicalID, dir, method, path string
	memoryMB                     int
}

// event is the name of the function's sample event in events/.
func (f samFunction) event() string { return f.dir + ".json" }

var samFunctions = []samFunction{
	{"LoginFunction", "login", "GET", "/auth/login", 128},
	{"CallbackFunction", "callback", "GET", "/auth/callback", 256},
	{"MeFunction", "me", "GET", "/auth/me", 128},
	{"LogoutFunction", "logout", "POST", "/auth/logout", 256},
}

// authorizerFunction is the HTTP API's SessionAuthorizer: no route of its own (the gateway
// invokes it before a protected route), an authorizer event (events/authorizer.json, GET
// /api/profile) and a simple response instead of an HTTP one.
var authorizerFunction = samFunction{"AuthorizerFunction", "authorizer", "", "", 128}

// emulatedFunctions are the functions the emulator suites build and run: the four routes and
// the authorizer.
var emulatedFunctions = append(slices.Clone(samFunctions), authorizerFunction)

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

// symbolicIntrinsics keeps references readable instead of resolving them to nothing: Ref X and
// GetAtt X.Y become "${X}" and "${X.Y}", Sub keeps its template string. Number parameters resolve
// to their default so typed fields still parse.
var symbolicIntrinsics = &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
	"Ref": func(_ string, in, tmpl any) any {
		name, _ := in.(string)
		if params, ok := tmpl.(map[string]any)["Parameters"].(map[string]any); ok {
			if p, ok := params[name].(map[string]any); ok && p["Type"] == "Number" {
				return p["Default"]
			}
		}
		return "${" + name + "}"
	},
	"Fn::GetAtt": func(_ string, in, _ any) any {
		switch v := in.(type) {
		case string:
			return "${" + v + "}"
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return "${" + strings.Join(parts, ".") + "}"
		}
		return nil
	},
	"Fn::Sub": func(_ string, in, _ any) any {
		if v, ok := in.([]any); ok && len(v) > 0 {
			return v[0]
		}
		return in
	},
}}

func openTemplate(t *testing.T) *cloudformation.Template {
	t.Helper()
	// goformation's HttpApi type lags SAM's: it knows AccessLogSetting (SAM: AccessLogSettings) and
	// takes RouteSettings for one route's settings (SAM: a map keyed by route). TestDeployTransform
	// checks both through the SAM translator; drop them here.
	raw := rawTemplate(t)
	resources, _ := raw["Resources"].(map[string]any)
	for _, r := range resources {
		if r, _ := r.(map[string]any); r["Type"] == "AWS::Serverless::HttpApi" {
			props, _ := r["Properties"].(map[string]any)
			delete(props, "AccessLogSettings")
			delete(props, "RouteSettings")
		}
	}
	js, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := goformation.ParseJSONWithOptions(js, symbolicIntrinsics)
	if err != nil {
		t.Fatalf("goformation.Parse(template.yaml) error = %v", err)
	}
	return tmpl
}

// rawTemplate is template.yaml as plain JSON values, for what goformation's unions blur (policies).
func rawTemplate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, symbolicIntrinsics)
	if err != nil {
		t.Fatalf("ProcessYAML(template.yaml) error = %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// tableShape is what the code and the template must agree on, in a form both convert to.
type tableShape struct {
	BillingMode string
	Keys        []string // "name:HASH"
	Attributes  []string // "name:S"
	Indexes     []string // "name keys=[...] projection=TYPE[attrs]"
}

func TestTemplateTableMatchesStore(t *testing.T) {
	tmpl := openTemplate(t)
	table, err := tmpl.GetDynamoDBTableWithName("SessionTable")
	if err != nil {
		t.Fatalf("template: %v", err)
	}

	def := store.TableDefinition("x")
	want := tableShape{BillingMode: string(def.BillingMode)}
	for _, k := range def.KeySchema {
		want.Keys = append(want.Keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
	}
	for _, a := range def.AttributeDefinitions {
		want.Attributes = append(want.Attributes, aws.ToString(a.AttributeName)+":"+string(a.AttributeType))
	}
	for _, g := range def.GlobalSecondaryIndexes {
		var keys []string
		for _, k := range g.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName)+":"+string(k.KeyType))
		}
		attrs := slices.Sorted(slices.Values(g.Projection.NonKeyAttributes))
		want.Indexes = append(want.Indexes, fmt.Sprintf("%s keys=%v projection=%s%v", aws.ToString(g.IndexName), keys, g.Projection.ProjectionType, attrs))
	}

	got := tableShape{BillingMode: aws.ToString(table.BillingMode)}
	for _, k := range table.KeySchema {
		got.Keys = append(got.Keys, k.AttributeName+":"+k.KeyType)
	}
	for _, a := range table.AttributeDefinitions {
		got.Attributes = append(got.Attributes, a.AttributeName+":"+a.AttributeType)
	}
	for _, g := range table.GlobalSecondaryIndexes {
		var keys []string
		for _, k := range g.KeySchema {
			keys = append(keys, k.AttributeName+":"+k.KeyType)
		}
		var ptype string
		var attrs []string
		if g.Projection != nil {
			ptype = aws.ToString(g.Projection.ProjectionType)
			attrs = slices.Sorted(slices.Values(g.Projection.NonKeyAttributes))
		}
		got.Indexes = append(got.Indexes, fmt.Sprintf("%s keys=%v projection=%s%v", g.IndexName, keys, ptype, attrs))
	}
	// Order of attribute definitions and indexes carries no meaning.
	for _, s := range []*tableShape{&want, &got} {
		slices.Sort(s.Attributes)
		slices.Sort(s.Indexes)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("template SessionTable = %+v;\nwant store.TableDefinition %+v", got, want)
	}
	if table.ProvisionedThroughput != nil {
		t.Errorf("template SessionTable has ProvisionedThroughput; want on-demand only")
	}

	if ttl := table.TimeToLiveSpecification; ttl == nil || !ttl.Enabled || aws.ToString(ttl.AttributeName) != store.TTLAttribute {
		var name string
		var on bool
		if ttl != nil {
			name, on = aws.ToString(ttl.AttributeName), ttl.Enabled
		}
		t.Errorf("template SessionTable TTL = %q enabled %t; want enabled on %q", name, on, store.TTLAttribute)
	}
	if pitr := table.PointInTimeRecoverySpecification; pitr == nil || !aws.ToBool(pitr.PointInTimeRecoveryEnabled) {
		t.Errorf("template SessionTable point-in-time recovery is not enabled")
	}
	if sse := table.SSESpecification; sse == nil || !sse.SSEEnabled {
		t.Errorf("template SessionTable SSE is not enabled")
	}
}

func TestTemplateFunctions(t *testing.T) {
	tmpl := openTemplate(t)
	root := repoRoot(t)
	globals, err := tmpl.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("template Globals.Function: %v", err)
	}
	if n := len(tmpl.GetAllServerlessFunctionResources()); n != len(templateFunctions()) {
		t.Errorf("template has %d functions; want %d", n, len(templateFunctions()))
	}
	routes := map[string]samFunction{}
	for _, r := range samFunctions {
		routes[r.logicalID] = r
	}
	for _, f := range templateFunctions() {
		t.Run(f.logicalID, func(t *testing.T) {
			fn, err := tmpl.GetServerlessFunctionWithName(f.logicalID)
			if err != nil {
				t.Fatalf("template: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, f.pkg, "main.go")); err != nil {
				if _, route := routes[f.logicalID]; route {
					t.Errorf("%s/main.go: %v", f.pkg, err)
				} else {
					t.Logf("%s/main.go: %v (written on another branch)", f.pkg, err)
				}
			}
			if got := fn.AWSCloudFormationMetadata["BuildMethod"]; got != "makefile" {
				t.Errorf("Metadata.BuildMethod = %v; want makefile", got)
			}
			if fn.CodeUri == nil || aws.ToString(fn.CodeUri.String) != "." {
				t.Errorf("CodeUri = %+v; want \".\" (one root go.mod)", fn.CodeUri)
			}

			// What SAM would deploy: the function's value, else the Globals one.
			runtime := firstSet(fn.Runtime, globals.Runtime)
			handler := firstSet(fn.Handler, globals.Handler)
			arch := fn.Architectures
			if arch == nil && globals.Architectures != nil {
				arch = *globals.Architectures
			}
			timeout := firstSet(fn.Timeout, globals.Timeout)
			memory := firstSet(fn.MemorySize, globals.MemorySize)
			if runtime != "provided.al2023" || handler != "bootstrap" || !slices.Equal(arch, []string{"arm64"}) {
				t.Errorf("runtime, handler, architectures = %q, %q, %v; want provided.al2023, bootstrap, [arm64]", runtime, handler, arch)
			}
			if timeout < 3 || timeout > 29 {
				t.Errorf("Timeout = %d; want 3..29 s (above the outbound timeouts, below API Gateway's 30 s)", timeout)
			}
			if memory < 128 || memory > 256 {
				t.Errorf("MemorySize = %d; want 128..256", memory)
			}

			// The four routes; the authorizer has none (the HTTP API invokes it), and the example's
			// route is checked with its authorizer in TestDeployTransform.
			r, route := routes[f.logicalID]
			switch {
			case f.logicalID == "AuthorizerFunction" && len(fn.Events) != 0:
				t.Errorf("Events = %d; want none (the HTTP API's SessionAuthorizer invokes it)", len(fn.Events))
			case !route && len(fn.Events) > 1, route && len(fn.Events) != 1:
				t.Fatalf("Events = %d; want exactly the one route", len(fn.Events))
			}
			for name, ev := range fn.Events {
				if !route {
					break
				}
				var api *struct{ ApiId, Method, Path, PayloadFormatVersion string }
				if ev.Type == "HttpApi" && ev.Properties != nil && ev.Properties.HttpApiEvent != nil {
					h := ev.Properties.HttpApiEvent
					api = &struct{ ApiId, Method, Path, PayloadFormatVersion string }{
						aws.ToString(h.ApiId), aws.ToString(h.Method), aws.ToString(h.Path), aws.ToString(h.PayloadFormatVersion)}
				}
				want := struct{ ApiId, Method, Path, PayloadFormatVersion string }{"${HttpApi}", r.method, r.path, "2.0"}
				if api == nil || *api != want {
					t.Errorf("Events[%s] = %s %+v; want HttpApi %+v", name, ev.Type, api, want)
				}
			}

			// make -n shows the command SAM's makefile build runs for this logical id.
			out, err := exec.Command("make", "-n", "-C", root, "build-"+f.logicalID, "ARTIFACTS_DIR=/artifacts").CombinedOutput()
			if err != nil {
				t.Fatalf("make -n build-%s: %v\n%s", f.logicalID, err, out)
			}
			for _, want := range []string{"GOOS=linux", "GOARCH=arm64", "-o /artifacts/bootstrap", "./" + f.pkg + "\n"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("make -n build-%s = %q; want it to contain %q", f.logicalID, out, want)
				}
			}
		})
	}

	// `make build` builds every function the template declares.
	out, err := exec.Command("make", "-n", "-C", root, "build").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build: %v\n%s", err, out)
	}
	for _, f := range templateFunctions() {
		if !strings.Contains(string(out), "./"+f.pkg+"\n") {
			t.Errorf("make -n build does not build %s (%s)", f.logicalID, f.pkg)
		}
	}

	groups := tmpl.GetAllLogsLogGroupResources()
	for _, f := range templateFunctions() {
		want := "/aws/lambda/${" + f.logicalID + "}"
		found := false
		for _, g := range groups {
			if aws.ToString(g.LogGroupName) == want {
				found = true
				if g.RetentionInDays == nil || *g.RetentionInDays <= 0 {
					t.Errorf("log group %s has no retention", want)
				}
			}
		}
		if !found {
			t.Errorf("no AWS::Logs::LogGroup named %s", want)
		}
	}

	apis := tmpl.GetAllServerlessHttpApiResources()
	if api, ok := apis["HttpApi"]; !ok || len(apis) != 1 {
		t.Errorf("HttpApis = %v; want exactly one, HttpApi", slices.Collect(keysOf(apis)))
	} else if api.StageName != nil {
		t.Errorf("HttpApi StageName = %q; want the $default stage (no StageName)", *api.StageName)
	}
}

func firstSet[T any](vals ...*T) T {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	var zero T
	return zero
}

func keysOf[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestTemplateEnvironment(t *testing.T) {
	tmpl := openTemplate(t)
	globals, err := tmpl.GetServerlessGlobalFunction()
	if err != nil {
		t.Fatalf("template Globals.Function: %v", err)
	}
	common := map[string]string{
		"TABLE_NAME":           "${SessionTable}",
		"SESSION_LIFETIME":     "${SessionLifetime}",
		"SESSION_IDLE_TIMEOUT": "${SessionIdleTimeout}",
	}
	oauthVars := map[string]string{
		"OAUTH_ISSUER":    "${Issuer}",
		"OAUTH_CLIENT_ID": "${ClientId}",
		"OAUTH_SCOPES":    "${Scopes}",
		"OAUTH_PROMPT":    "${Prompt}",
	}
	with := func(extra ...map[string]string) map[string]string {
		m := map[string]string{}
		for _, e := range append([]map[string]string{common}, extra...) {
			for k, v := range e {
				m[k] = v
			}
		}
		return m
	}
	secret := map[string]string{"OAUTH_CLIENT_SECRET_ARN": "${ClientSecretArn}"}
	// The token key: only the functions that write or read token records.
	tokenKey := map[string]string{"TOKEN_ENCRYPTION_KEY_ARN": "${TokenKeySecret}"}
	redirect := map[string]string{"OAUTH_REDIRECT_URI": "${RedirectUri}"}
	appOrigin := map[string]string{"APP_ORIGIN": "${AppOrigin}"}
	want := map[string]map[string]string{
		// Login needs no secret; it may skip discovery when the authorize URL is given.
		"LoginFunction":    with(oauthVars, redirect, map[string]string{"OAUTH_AUTHORIZE_URL": "${AuthorizeUrl}"}),
		"CallbackFunction": with(oauthVars, secret, tokenKey, redirect),
		// Me reads the session table only.
		"MeFunction":     with(),
		"LogoutFunction": with(oauthVars, secret, tokenKey, appOrigin, map[string]string{"OAUTH_POST_LOGOUT_REDIRECT_URI": "${PostLogoutRedirectUri}"}),
		// The authorizer reads the session table and applies the cross-site rule.
		"AuthorizerFunction": with(appOrigin),
		// auth.SessionsFromEnv: the OAuth client (userinfo, refresh), the secret and the token key.
		"ExampleProfileFunction": with(map[string]string{
			"OAUTH_ISSUER": "${Issuer}", "OAUTH_CLIENT_ID": "${ClientId}", "OAUTH_SCOPES": "${Scopes}",
		}, secret, tokenKey),
	}
	for _, r := range templateFunctions() {
		fn, err := tmpl.GetServerlessFunctionWithName(r.logicalID)
		if err != nil {
			t.Fatalf("template: %v", err)
		}
		got := map[string]string{}
		if globals.Environment != nil {
			for k, v := range globals.Environment.Variables {
				got[k] = v
			}
		}
		if fn.Environment != nil {
			for k, v := range fn.Environment.Variables {
				got[k] = v
			}
		}
		if !reflect.DeepEqual(got, want[r.logicalID]) {
			t.Errorf("%s environment = %v;\nwant %v", r.logicalID, got, want[r.logicalID])
		}
		for _, plain := range []string{"OAUTH_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEY"} {
			if _, ok := got[plain]; ok {
				t.Errorf("%s has %s in plain text; want the Secrets Manager ARN", r.logicalID, plain)
			}
		}
	}

	params := tmpl.Parameters
	if d := params["Issuer"].Default; d != "https://auth.agentuity.cloud" {
		t.Errorf("Issuer default = %v; want https://auth.agentuity.cloud", d)
	}
	if d := params["Scopes"].Default; d != "openid profile email" {
		t.Errorf("Scopes default = %v; want openid profile email", d)
	}
	prompts := params["Prompt"].AllowedValues
	for _, v := range []string{"", "login", "consent", "none", "select_account"} {
		if !slices.Contains(prompts, any(v)) {
			t.Errorf("Prompt AllowedValues = %v; want it to contain %q", prompts, v)
		}
	}
	if len(prompts) != 5 {
		t.Errorf("Prompt AllowedValues = %v; want exactly the documented prompts (docs/contract.md) and empty", prompts)
	}
	for _, name := range []string{"ClientId", "ClientSecretArn"} {
		if p, ok := params[name]; !ok || p.Default != nil {
			t.Errorf("parameter %s = %+v; want it required (no default)", name, p)
		}
	}
}

// TestTemplateTokenKeySecret: the token key is generated by Secrets Manager at deploy time, long
// enough for secretenv.NewTokenSealer and a plain string (no punctuation, so never taken for JSON).
func TestTemplateTokenKeySecret(t *testing.T) {
	resources, _ := rawTemplate(t)["Resources"].(map[string]any)
	res, _ := resources["TokenKeySecret"].(map[string]any)
	if res["Type"] != "AWS::SecretsManager::Secret" {
		t.Fatalf("TokenKeySecret = %v; want an AWS::SecretsManager::Secret", res)
	}
	props, _ := res["Properties"].(map[string]any)
	if _, ok := props["SecretString"]; ok {
		t.Errorf("TokenKeySecret has a SecretString in the template; want it generated")
	}
	gen, _ := props["GenerateSecretString"].(map[string]any)
	length, _ := gen["PasswordLength"].(float64)
	if int(length) < 2*secretenv.MinTokenKeyLength || gen["ExcludePunctuation"] != true {
		t.Errorf("TokenKeySecret GenerateSecretString = %v; want PasswordLength >= %d, ExcludePunctuation true", gen, 2*secretenv.MinTokenKeyLength)
	}
	for _, k := range []string{"SecretStringTemplate", "GenerateStringKey"} {
		if _, ok := gen[k]; ok {
			t.Errorf("TokenKeySecret GenerateSecretString has %s; want a plain generated string", k)
		}
	}
}

func policyStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func TestTemplateOutputs(t *testing.T) {
	outputs := openTemplate(t).Outputs
	want := map[string]string{
		"ApiUrl":      "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/",
		"CallbackUrl": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/auth/callback",
		"TableName":   "${SessionTable}",
		// Where an operator rotates the token key.
		"TokenKeySecretArn": "${TokenKeySecret}",
		// The managed policies the app's own functions attach.
		"SessionReaderPolicyArn":     "${SessionReaderPolicy}",
		"TokenRefresherPolicyArn":    "${TokenRefresherPolicy}",
		"SignOutEverywherePolicyArn": "${SignOutEverywherePolicy}",
	}
	for name, w := range want {
		if got := outputs[name].Value; got != w {
			t.Errorf("Outputs[%s] = %v; want %q", name, got, w)
		}
	}
}

// TestEvents: the sample events under events/ are payload 2.0 requests for the template's samFunctions, and
// the handlers read them as a browser's requests (a new sign-in, an unknown state or session, a
// same-origin logout).
func TestEvents(t *testing.T) {
	root := repoRoot(t)
	const issuer = "https://auth.example.test"
	client, err := oauth.NewClient(oauth.Config{
		Issuer: issuer, ClientID: "client", ClientSecret: "secret",
		AuthorizeURL: issuer + "/authorize", TokenURL: issuer + "/oauth/token", UserinfoURL: issuer + "/userinfo",
		RevokeURL: issuer + "/revoke", EndSessionURL: issuer + "/end_session", JWKSURL: issuer + "/keys",
	})
	if err != nil {
		t.Fatal(err)
	}
	p := client
	h := routes.New(routes.Config{Provider: p, Session: session.Config{Store: store.NewMemory(), Revoker: p}})
	wantStatus := map[string]int{"LoginFunction": 302, "CallbackFunction": 400, "MeFunction": 401, "LogoutFunction": 302}
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatalf("decode: %v", err)
			}
			var kind struct{ Type string }
			if json.Unmarshal(data, &kind); kind.Type == "REQUEST" {
				checkAuthorizerEvent(t, data)
				covered[authorizerFunction.logicalID] = true
				return
			}
			var r *samFunction
			for i := range samFunctions {
				if ev.RouteKey == samFunctions[i].method+" "+samFunctions[i].path {
					r = &samFunctions[i]
				}
			}
			if r == nil {
				t.Fatalf("routeKey %q names no route of template.yaml", ev.RouteKey)
			}
			covered[r.logicalID] = true
			rc := ev.RequestContext
			if ev.Version != "2.0" || ev.RawPath != r.path || rc.HTTP.Method != r.method || rc.HTTP.Path != r.path ||
				rc.RouteKey != ev.RouteKey || rc.DomainName == "" || rc.RequestID == "" || ev.Headers["x-forwarded-proto"] != "https" {
				t.Errorf("event = version %q rawPath %q method %q path %q routeKey %q domain %q requestId %q proto %q; want a consistent 2.0 %s %s over https",
					ev.Version, ev.RawPath, rc.HTTP.Method, rc.HTTP.Path, rc.RouteKey, rc.DomainName, rc.RequestID, ev.Headers["x-forwarded-proto"], r.method, r.path)
			}
			resp, err := h.Route(t.Context(), ev)
			if err != nil || resp.StatusCode != wantStatus[r.logicalID] {
				t.Errorf("Handler.Route(event) = %d, %v; want %d", resp.StatusCode, err, wantStatus[r.logicalID])
			}
		})
	}
	for _, r := range samFunctions {
		if !covered[r.logicalID] {
			t.Errorf("no sample event in events/ for %s %s", r.method, r.path)
		}
	}
	if !covered[authorizerFunction.logicalID] {
		t.Errorf("no authorizer event (type REQUEST) in events/")
	}
}

// checkAuthorizerEvent: an authorizer event is the HTTP API's payload 2.0 request to a Lambda
// authorizer for the example's route (GET /api/profile) over https, whose identity source is the
// Cookie header; the authorizer handler, invoked through JSON as Lambda does, refuses its cookie
// while it names no session and allows it, with the contract's context, once it does; and
// pkg/auth reads that context back from the route's event.
func checkAuthorizerEvent(t *testing.T, data []byte) {
	t.Helper()
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode as an authorizer event: %v", err)
	}
	rc := ev.RequestContext
	cookieHeader := ev.Headers["cookie"]
	if ev.Version != "2.0" || ev.RouteKey != "GET /api/profile" || rc.RouteKey != ev.RouteKey || ev.RawPath != "/api/profile" ||
		rc.HTTP.Method != "GET" || rc.HTTP.Path != ev.RawPath || rc.DomainName == "" || rc.RequestID == "" ||
		ev.Headers["x-forwarded-proto"] != "https" || !strings.HasSuffix(ev.RouteArn, "/GET/api/profile") {
		t.Errorf("event = version %q routeKey %q/%q rawPath %q method %q path %q domain %q requestId %q proto %q routeArn %q; want a consistent 2.0 GET /api/profile over https",
			ev.Version, ev.RouteKey, rc.RouteKey, ev.RawPath, rc.HTTP.Method, rc.HTTP.Path, rc.DomainName, rc.RequestID, ev.Headers["x-forwarded-proto"], ev.RouteArn)
	}
	if !slices.Equal(ev.IdentitySource, []string{cookieHeader}) || strings.Join(ev.Cookies, "; ") != cookieHeader {
		t.Errorf("identitySource %q, cookies %q; want the Cookie header %q, split into the cookies", ev.IdentitySource, ev.Cookies, cookieHeader)
	}
	id, ok := session.CookieValue(events.APIGatewayV2HTTPRequest{Cookies: ev.Cookies, Headers: ev.Headers})
	if !ok || !session.ValidToken(id) {
		t.Fatalf("the event's cookies %q hold no well-formed __Host-session", ev.Cookies)
	}

	st := store.NewMemory()
	h := routes.New(routes.Config{Session: session.Config{Store: st, Logger: session.NewLogger(io.Discard)}})
	authorize := func() events.APIGatewayV2CustomAuthorizerSimpleResponse {
		t.Helper()
		out, err := lambda.NewHandler(h.Authorize).Invoke(t.Context(), data)
		if err != nil {
			t.Fatalf("Authorize(events/authorizer.json) error = %v", err)
		}
		var resp events.APIGatewayV2CustomAuthorizerSimpleResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("Authorize answer %s: %v", out, err)
		}
		return resp
	}
	if resp := authorize(); resp.IsAuthorized || resp.Context != nil {
		t.Errorf("Authorize(a cookie naming no session) = %+v; want refused", resp)
	}

	now := time.Now()
	user := signin.User{Subject: "demo-user-0001", Email: "demo@example.com", Name: "Demo User"}
	err := st.CreateSession(t.Context(),
		store.Session{Key: store.Hash(id), User: user, Issuer: "https://auth.example.test", CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		store.Tokens{ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	resp := authorize()
	want := map[string]any{"sub": user.Subject, "email": user.Email, "name": user.Name, "iss": "https://auth.example.test",
		"session": store.Hash(id), "expires_at": float64(now.Add(time.Hour).Unix())}
	if !resp.IsAuthorized || !reflect.DeepEqual(resp.Context, want) {
		t.Errorf("Authorize(a live session's cookie) = %+v; want allowed with %v", resp, want)
	}
	route := events.APIGatewayV2HTTPRequest{RouteKey: ev.RouteKey, RequestContext: rc}
	route.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: resp.Context}
	if sess, err := auth.FromAuthorizer(route); err != nil || sess.Key != store.Hash(id) || sess.User != user {
		t.Errorf("auth.FromAuthorizer(the route's event) = %+v, %v; want the session", sess, err)
	}
}

// TestBuild runs the Makefile targets SAM runs and checks what they produce: stripped, static
// linux/arm64 executables named bootstrap, built with the flags docs/contract.md asks for. GOARCH=amd64
// is exported, as on a developer's amd64 machine: the template declares arm64, so the targets
// must build arm64 anyway (only a make command-line variable overrides it).
func TestBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function; skipped with -short")
	}
	root, out := repoRoot(t), t.TempDir()
	for _, r := range templateFunctions() {
		t.Run(r.logicalID, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(root, r.pkg)); err != nil {
				t.Skipf("%s: %v (written on another branch)", r.pkg, err)
			}
			dir := filepath.Join(out, r.logicalID)
			cmd := exec.CommandContext(t.Context(), "make", "-C", root, "build-"+r.logicalID)
			cmd.Env = append(os.Environ(), "GOARCH=amd64", "ARTIFACTS_DIR="+dir) // as sam build passes it
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOARCH=amd64 make build-%s: %v\n%s", r.logicalID, err, msg)
			}
			bin := filepath.Join(dir, "bootstrap")
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("elf.Open(%s): %v", bin, err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
				t.Errorf("bootstrap = %v %v %v; want EM_AARCH64 ELFCLASS64 ET_EXEC", f.Machine, f.Class, f.Type)
			}
			for _, s := range f.Sections {
				if strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") || s.Name == ".symtab" || s.Name == ".interp" {
					t.Errorf("bootstrap has section %s; want stripped (-s -w) and static", s.Name)
				}
			}
			if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
				t.Errorf("bootstrap is not executable: %v", err)
			}

			info, err := buildinfo.ReadFile(bin)
			if err != nil {
				t.Fatalf("buildinfo.ReadFile: %v", err)
			}
			if info.Path != "github.com/serverless-signin/signin/"+r.pkg {
				t.Errorf("main package = %q; want %s", info.Path, r.pkg)
			}
			settings := map[string]string{}
			for _, s := range info.Settings {
				settings[s.Key] = s.Value
			}
			// -ldflags is not recorded under -trimpath; the section check above covers -s -w.
			for k, v := range map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true", "-tags": "lambda.norpc"} {
				if settings[k] != v {
					t.Errorf("build setting %s = %q; want %q", k, settings[k], v)
				}
			}
		})
	}
}
