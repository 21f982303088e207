package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/serverless-signin/signin/internal/emf"
	"github.com/serverless-signin/signin/internal/storecalls"
	"github.com/serverless-signin/signin/pkg/store"
)

// What template.yaml deploys, checked with the tools a deployment runs: cfn-lint (CloudFormation's
// resource schemas, with the SAM transform), the SAM translator itself (what `sam deploy` hands to
// CloudFormation), and the Makefile targets `sam build` runs.

// templateFunction is one AWS::Serverless::Function of template.yaml and its main package.
type templateFunction struct {
	logicalID, pkg string // pkg: the main package's folder, from the repository root
}

// templateFunctions lists every function of template.yaml: the four routes, the HTTP API's
// SessionAuthorizer and the example behind it (deployed with ExampleApi=true).
func templateFunctions() []templateFunction {
	fns := make([]templateFunction, 0, len(samFunctions)+2)
	for _, f := range samFunctions {
		fns = append(fns, templateFunction{f.logicalID, "functions/" + f.dir})
	}
	return append(fns,
		templateFunction{"AuthorizerFunction", "functions/authorizer"},
		templateFunction{"ExampleProfileFunction", "examples/profile"},
	)
}

// perm is one permission as the policy tests compare them: an action on a named resource ("table",
// the user index, "client-secret", "token-key"), on the items whose key starts with prefix when
// prefix is set (a dynamodb:LeadingKeys condition). A statement naming several prefixes is one
// perm per prefix: for single-item calls that is the same permission.
func perm(action, resource, prefix string) string {
	if prefix == "" {
		return action + " " + resource
	}
	return action + " " + resource + " " + prefix + "*"
}

// The expected grants are derived from the code, from both ends: internal/storecalls declares the
// store methods each function (and the pkg/auth calls behind each managed policy) calls, which the
// tests of internal/routes and pkg/auth hold to the calls they record; store.Permissions() gives
// each method's DynamoDB actions and key prefixes, which pkg/store's TestPermissions holds to the
// requests it sends. Only the secret reads are stated here.

// storeGrants is what the store methods need: each action on the table for each key prefix, or
// on the user index alone (its keys have no fixed prefix).
func storeGrants(t *testing.T, methods []string) []string {
	t.Helper()
	perms := store.Permissions()
	var out []string
	for _, m := range methods {
		a, ok := perms[m]
		if !ok {
			t.Fatalf("store method %q has no store.Permissions() entry", m)
		}
		for _, action := range a.Actions {
			if a.Index {
				out = append(out, perm(action, store.UserIndex, ""))
			}
			for _, p := range a.Prefixes {
				out = append(out, perm(action, "table", p))
			}
		}
	}
	return out
}

// secretOfEnv names the secret each ARN variable points the wiring to: a function reads, at cold
// start, the secrets whose ARN its environment carries (internal/lambdaenv/secretenv), so its
// policy may read exactly those.
var secretOfEnv = map[string]string{
	"OAUTH_CLIENT_SECRET_ARN":  "client-secret",
	"TOKEN_ENCRYPTION_KEY_ARN": "token-key",
}

// sessionsFromEnvSecrets: auth.SessionsFromEnv reads the client secret and the token key at every
// cold start, so each managed policy grants both.
var sessionsFromEnvSecrets = []string{
	perm("secretsmanager:GetSecretValue", "client-secret", ""),
	perm("secretsmanager:GetSecretValue", "token-key", ""),
}

// wantManagedPolicies is what each managed policy of template.yaml grants: the store methods of the
// pkg/auth calls it is for, and the secrets SessionsFromEnv reads.
func wantManagedPolicies(t *testing.T) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	for name, methods := range storecalls.Policies {
		want[name] = append(storeGrants(t, methods), sessionsFromEnvSecrets...)
	}
	return want
}

// wantGrants is what each function of template.yaml may do: exactly the store methods its code
// calls, on exactly their keys, plus the secrets its environment names; or, for a function that
// uses pkg/auth like an app's own (storecalls.Attached), what its managed policies grant.
func wantGrants(t *testing.T) map[string][]string {
	t.Helper()
	resources, _ := rawTemplate(t)["Resources"].(map[string]any)
	want := map[string][]string{}
	for id, methods := range storecalls.Functions {
		want[id] = storeGrants(t, methods)
		env, _ := dig(resources[id], "Properties", "Environment", "Variables").(map[string]any)
		for _, v := range slices.Sorted(keysOf(env)) {
			if secret, ok := secretOfEnv[v]; ok {
				want[id] = append(want[id], perm("secretsmanager:GetSecretValue", secret, ""))
			}
		}
	}
	managed := wantManagedPolicies(t)
	for id, policies := range storecalls.Attached {
		for _, p := range policies {
			want[id] = append(want[id], managed[p]...)
		}
	}
	for _, fn := range templateFunctions() {
		if _, ok := want[fn.logicalID]; !ok {
			t.Errorf("internal/storecalls declares nothing for %s: add the store methods its code calls", fn.logicalID)
		}
	}
	return want
}

// policyResources names the resources policies may name, in symbolic form (see symbolicIntrinsics).
var policyResources = map[string]string{
	"${SessionTable.Arn}":                          "table",
	"${SessionTable.Arn}/index/" + store.UserIndex: store.UserIndex,
	"${ClientSecretArn}":                           "client-secret",
	"${TokenKeySecret}":                            "token-key",
}

// grantsOf turns IAM policy statements into grant strings; anything the comparison cannot express
// (Deny, NotAction, another condition, an unknown resource) fails the test.
func grantsOf(t *testing.T, where string, statements any) []string {
	t.Helper()
	list, ok := statements.([]any)
	if !ok {
		t.Errorf("%s: Statement = %v; want a list", where, statements)
		return nil
	}
	var out []string
	for _, s := range list {
		st, _ := s.(map[string]any)
		for k := range st {
			if !slices.Contains([]string{"Effect", "Action", "Resource", "Condition", "Sid"}, k) {
				t.Errorf("%s: statement has %s; want Effect, Action, Resource and Condition only", where, k)
			}
		}
		if st["Effect"] != "Allow" {
			t.Errorf("%s: statement %v; want Effect Allow", where, st)
		}
		var prefixes []string
		if cond, ok := st["Condition"]; ok {
			like, _ := cond.(map[string]any)["ForAllValues:StringLike"].(map[string]any)
			keys := policyStrings(like["dynamodb:LeadingKeys"])
			if len(cond.(map[string]any)) != 1 || len(like) != 1 || len(keys) == 0 {
				t.Errorf("%s: Condition = %v; want only ForAllValues:StringLike on dynamodb:LeadingKeys", where, cond)
			}
			for _, k := range keys {
				if !strings.HasSuffix(k, "#*") {
					t.Errorf("%s: LeadingKeys pattern %q; want a key prefix such as %q", where, k, store.SessionPrefix+"*")
				}
				prefixes = append(prefixes, strings.TrimSuffix(k, "*"))
			}
		}
		for _, a := range policyStrings(symbolic(st["Action"])) {
			for _, r := range policyStrings(symbolic(st["Resource"])) {
				name, ok := policyResources[r]
				if !ok {
					t.Errorf("%s: %s on resource %q; want one of the table, its user index or the two secrets", where, a, r)
					continue
				}
				if len(prefixes) == 0 {
					out = append(out, perm(a, name, ""))
				}
				for _, p := range prefixes {
					out = append(out, perm(a, name, p))
				}
			}
		}
	}
	return out
}

// symbolic rewrites CloudFormation intrinsics in translator output as symbolicIntrinsics writes them
// for template.yaml ({"Ref": "X"} -> "${X}", GetAtt -> "${X.Y}", Sub -> its template), so both
// read alike.
func symbolic(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = symbolic(e)
		}
		return out
	case map[string]any:
		if len(v) == 1 {
			if ref, ok := v["Ref"].(string); ok {
				return "${" + ref + "}"
			}
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				return fmt.Sprintf("${%v.%v}", ga[0], ga[1])
			}
			if sub, ok := v["Fn::Sub"].(string); ok {
				return sub
			}
		}
	}
	return v
}

// grantSet is a list of grants as a sorted set: two statements (or two attached policies) that
// grant the same permission grant it once.
func grantSet(grants []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(grants)))
}

// TestTemplatePolicies: each function's policies, as written in template.yaml (inline documents
// and the template's own managed policies), grant exactly wantGrants, derived from the code. TestDeployTransform checks
// the roles the translator makes of them.
func TestTemplatePolicies(t *testing.T) {
	resources, _ := rawTemplate(t)["Resources"].(map[string]any)
	wantManaged, wantFunctions := wantManagedPolicies(t), wantGrants(t)
	managed := map[string][]string{}
	for name, want := range wantManaged {
		res, _ := resources[name].(map[string]any)
		if res["Type"] != "AWS::IAM::ManagedPolicy" {
			t.Errorf("%s = %v; want an AWS::IAM::ManagedPolicy", name, res["Type"])
			continue
		}
		doc, _ := res["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
		managed[name] = grantsOf(t, name, doc["Statement"])
		if got, want := grantSet(managed[name]), grantSet(want); !slices.Equal(got, want) {
			t.Errorf("%s grants = %q;\nwant %q", name, got, want)
		}
	}
	for _, fn := range templateFunctions() {
		t.Run(fn.logicalID, func(t *testing.T) {
			res, _ := resources[fn.logicalID].(map[string]any)
			props, _ := res["Properties"].(map[string]any)
			if _, ok := props["Role"]; ok {
				t.Fatalf("Role is set; want SAM's generated role with the policies below")
			}
			policies, ok := props["Policies"].([]any)
			if !ok {
				t.Fatalf("Policies = %v; want a list", props["Policies"])
			}
			var got []string
			for _, p := range policies {
				switch p := p.(type) {
				case string: // a Ref to one of the template's managed policies
					name := strings.TrimSuffix(strings.TrimPrefix(p, "${"), "}")
					g, ok := managed[name]
					if !ok {
						t.Errorf("policy %q; want an inline document or one of %v", p, slices.Sorted(keysOf(wantManaged)))
					}
					got = append(got, g...)
				case map[string]any:
					got = append(got, grantsOf(t, fn.logicalID, p["Statement"])...)
				default:
					t.Errorf("policy %v: a SAM policy template or AWS managed policy grants more than we can see", p)
				}
			}
			if got, want := grantSet(got), grantSet(wantFunctions[fn.logicalID]); !slices.Equal(got, want) {
				t.Errorf("%s grants = %q;\nwant %q", fn.logicalID, got, want)
			}
		})
	}
}

// requireTemplateTool skips a test when a tool is missing on a developer's machine and fails it in
// CI (CI=true) or with REQUIRE_TEMPLATE_TOOLS=1 (make test sets it): cfn-lint and the SAM
// translator are installed on the project's machines (`pip install cfn-lint` brings both).
func requireTemplateTool(t *testing.T, tool string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("%s not available (%v); pip install cfn-lint installs cfn-lint and the SAM translator", tool, err)
	if os.Getenv("REQUIRE_TEMPLATE_TOOLS") == "1" || os.Getenv("CI") == "true" {
		t.Fatal(msg + "; REQUIRE_TEMPLATE_TOOLS=1 or CI=true forbids skipping")
	}
	t.Skip(msg)
}

// templateWith writes a copy of template.yaml whose parameters default to values (a deployment's
// parameter overrides, as cfn-lint and the translator read defaults) and returns its path.
func templateWith(t *testing.T, values map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(keysOf(values)) {
		re := regexp.MustCompile(`(?m)^(  ` + regexp.QuoteMeta(name) + `:\n    Type: (String|Number)\n)(    Default: .*\n)?`)
		m := re.FindSubmatchIndex(data)
		if m == nil {
			t.Fatalf("template.yaml: no parameter %s (a top-level Type: String or Number line first)", name)
		}
		v := values[name]
		if string(data[m[4]:m[5]]) == "String" {
			q, _ := json.Marshal(v) // a JSON string is a YAML double-quoted scalar
			v = string(q)
		}
		line := "    Default: " + v + "\n"
		data = slices.Concat(data[:m[3]], []byte(line), data[m[1]:])
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lintMatch is one cfn-lint finding (--format json).
type lintMatch struct {
	Rule     struct{ Id string }
	Location struct{ Path []any }
	Message  string
}

func cfnLint(t *testing.T, template string) []lintMatch {
	t.Helper()
	lint, err := exec.LookPath("cfn-lint")
	requireTemplateTool(t, "cfn-lint", err)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), lint, "--format", "json", template)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run() // exits non-zero when it finds something: the JSON says what
	var matches []lintMatch
	if err := json.Unmarshal(stdout.Bytes(), &matches); err != nil {
		t.Fatalf("cfn-lint %s: %v (%v)\n%s%s", template, runErr, err, stdout.Bytes(), stderr.Bytes())
	}
	return matches
}

// everyFeature turns every optional feature on, with values the functions accept; with the required
// parameters it is a complete deployment.
var everyFeature = map[string]string{
	"ClientId":              "client-123",
	"ClientSecretArn":       "arn:aws:secretsmanager:us-east-1:123456789012:secret:signin/client-secret-AbCdEf",
	"AuthorizeUrl":          "https://auth.agentuity.cloud/authorize",
	"Scopes":                "openid profile email offline_access",
	"Prompt":                "consent",
	"RedirectUri":           "https://auth.example.com/auth/callback",
	"PostLogoutRedirectUri": "https://app.example.com/signed-out",
	"AppOrigin":             "https://app.example.com",
	"SessionIdleTimeout":    "30m",
	"ExampleApi":            "true",
	"AlarmTopicArn":         "arn:aws:sns:us-east-1:123456789012:signin-alarms",
}

// TestDeployLint runs cfn-lint (CloudFormation's schemas, after the SAM transform) on template.yaml
// as it is and with every optional feature on.
func TestDeployLint(t *testing.T) {
	for name, file := range map[string]func(*testing.T) string{
		"defaults":     func(t *testing.T) string { return filepath.Join(repoRoot(t), "template.yaml") },
		"everyFeature": func(t *testing.T) string { return templateWith(t, everyFeature) },
	} {
		t.Run(name, func(t *testing.T) {
			for _, m := range cfnLint(t, file(t)) {
				t.Errorf("cfn-lint: %s %v: %s", m.Rule.Id, m.Location.Path, m.Message)
			}
		})
	}
}

// parameterCases: for every parameter, values the functions accept and values they refuse at cold
// start (or that cannot work deployed); the template must refuse the latter before deploying.
var parameterCases = map[string]struct{ accept, refuse []string }{
	"Issuer": {
		[]string{"https://auth.agentuity.cloud", "https://idp.example.com/tenant/"},
		[]string{"http://auth.agentuity.cloud", "https://auth.example.com/?tenant=1", "https://auth.example.com/#x", "https://user@auth.example.com", "auth.agentuity.cloud", ""},
	},
	"ClientId":        {[]string{"client-123"}, []string{"", " client-123"}},
	"ClientSecretArn": {[]string{everyFeature["ClientSecretArn"]}, []string{"signin/client-secret"}},
	"AuthorizeUrl":    {[]string{"", "https://auth.agentuity.cloud/authorize"}, []string{"http://auth.agentuity.cloud/authorize"}},
	"Scopes": {
		[]string{"openid profile email offline_access", "openid", "profile openid"},
		// The provider CLI's comma-separated form is one scope token here.
		[]string{"profile email", "openid,profile,email", "openidx profile", "xopenid", `openid "email"`, ""},
	},
	"Prompt":                {[]string{"", "consent", "select_account"}, []string{"bogus"}},
	"RedirectUri":           {[]string{"", "https://auth.example.com/auth/callback"}, []string{"http://auth.example.com/auth/callback", "https://auth.example.com/cb#x", "/auth/callback"}},
	"PostLogoutRedirectUri": {[]string{"", "https://app.example.com/signed-out"}, []string{"app.example.com", "https://app.example.com/#x"}},
	"AppOrigin":             {[]string{"", "https://app.example.com", "http://localhost:3000"}, []string{"https://app.example.com/", "https://app.example.com/app", "app.example.com"}},
	"SessionLifetime":       {[]string{"168h", "1h30m", "45m", "90s", "3600"}, []string{"0", "0h", "0h0m0s", "-1h", "1d", "1.5h", ""}},
	"SessionIdleTimeout":    {[]string{"0", "30m", "1800", "2h"}, []string{"-5m", "30 minutes", "1d", ""}},
	"AuthRoutesRateLimit":   {[]string{"50"}, []string{"0"}},
	"AuthRoutesBurstLimit":  {[]string{"100"}, []string{"0"}},
	"SessionRoutesRateLimit": {
		[]string{"500"}, []string{"0"},
	},
	"SessionRoutesBurstLimit":       {[]string{"1000"}, []string{"0"}},
	"ExampleApi":                    {[]string{"true", "false"}, []string{"yes"}},
	"CallbackFailureAlarmThreshold": {[]string{"5"}, []string{"0"}},
	"AlarmTopicArn":                 {[]string{"", everyFeature["AlarmTopicArn"]}, []string{"signin-alarms", "arn:aws:sqs:us-east-1:123456789012:q"}},
	"LogRetentionInDays":            {[]string{"14"}, []string{"10"}},
}

// allows applies a template parameter's constraints to v as CloudFormation does.
func allows(p map[string]any, v string) bool {
	if vals, ok := p["AllowedValues"].([]any); ok && !slices.ContainsFunc(vals, func(a any) bool { return fmt.Sprint(a) == v }) {
		return false
	}
	if pat, ok := p["AllowedPattern"].(string); ok && !regexp.MustCompile(`^(?:`+pat+`)$`).MatchString(v) {
		return false
	}
	if n, ok := p["MinLength"].(float64); ok && float64(len(v)) < n {
		return false
	}
	if p["Type"] == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		if n, ok := p["MinValue"].(float64); ok && f < n {
			return false
		}
		if n, ok := p["MaxValue"].(float64); ok && f > n {
			return false
		}
	}
	return true
}

// TestDeployParameterConstraints: every parameter accepts what the functions accept and refuses
// what they refuse, by the template's constraints and by cfn-lint (which checks a default against
// them): the stack must not deploy a configuration whose routes then all answer 500.
func TestDeployParameterConstraints(t *testing.T) {
	params, _ := rawTemplate(t)["Parameters"].(map[string]any)
	if got, want := slices.Sorted(keysOf(params)), slices.Sorted(keysOf(parameterCases)); !slices.Equal(got, want) {
		t.Errorf("template parameters = %v;\nparameterCases covers %v", got, want)
	}
	for name, c := range parameterCases {
		p, _ := params[name].(map[string]any)
		if p == nil {
			continue
		}
		if _, ok := p["ConstraintDescription"]; !ok && len(c.refuse) > 0 {
			t.Errorf("%s has no ConstraintDescription; want one saying what is expected", name)
		}
		if d, ok := p["Default"]; ok && !allows(p, fmt.Sprint(d)) {
			t.Errorf("%s refuses its own default %q", name, d)
		}
		for _, v := range c.accept {
			if !allows(p, v) {
				t.Errorf("%s refuses %q; want it accepted", name, v)
			}
		}
		for _, v := range c.refuse {
			if allows(p, v) {
				t.Errorf("%s accepts %q; want it refused", name, v)
			}
		}
	}

	// cfn-lint (CloudFormation's reading of the constraints): the first accepted value of every
	// parameter passes, the first refused value of every parameter is reported.
	accepted, refused := map[string]string{}, map[string]string{}
	for name, c := range parameterCases {
		accepted[name] = c.accept[0]
		refused[name] = c.refuse[0]
	}
	t.Run("cfn-lint accepted", func(t *testing.T) {
		for _, m := range cfnLint(t, templateWith(t, accepted)) {
			t.Errorf("cfn-lint: %s %v: %s", m.Rule.Id, m.Location.Path, m.Message)
		}
	})
	t.Run("cfn-lint refused", func(t *testing.T) {
		reported := map[string]bool{}
		for _, m := range cfnLint(t, templateWith(t, refused)) {
			if len(m.Location.Path) == 3 && m.Location.Path[0] == "Parameters" && m.Location.Path[2] == "Default" {
				reported[fmt.Sprint(m.Location.Path[1])] = true
			}
		}
		for name, v := range refused {
			if !reported[name] {
				t.Errorf("cfn-lint accepts %s=%q; want it refused", name, v)
			}
		}
	})
}

// translate runs the SAM translator (what `sam deploy` and CloudFormation's AWS::Serverless
// transform run) on template.yaml with parameter values, after pointing every CodeUri at S3 as
// `sam package` does, and returns the CloudFormation template it produces.
func translate(t *testing.T, params map[string]string) map[string]any {
	t.Helper()
	python, err := exec.LookPath("python3")
	requireTemplateTool(t, "python3", err)
	if out, err := exec.CommandContext(t.Context(), python, "-c", "import samtranslator").CombinedOutput(); err != nil {
		requireTemplateTool(t, "the SAM translator (python3 -c 'import samtranslator')", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out)))
	}
	const script = `
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

with open(sys.argv[1]) as f:
    template = yaml_parse(f.read())
for name, res in template["Resources"].items():
    if res.get("Type") == "AWS::Serverless::Function":
        res["Properties"]["CodeUri"] = "s3://bucket/%s.zip" % name

class NoManagedPolicies:
    def load(self):
        return {}

json.dump(transform(template, json.loads(sys.argv[2]), NoManagedPolicies()), sys.stdout)
`
	values, _ := json.Marshal(params)
	cmd := exec.CommandContext(t.Context(), python, "-c", script, filepath.Join(repoRoot(t), "template.yaml"), string(values))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("SAM translator: %v\n%s", err, stderr.Bytes())
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("SAM translator output: %v", err)
	}
	return out
}

// ifTrue unwraps {"Fn::If": [cond, a, b]} to a (what a deployment with cond true gets) and reports
// the condition.
func ifTrue(v any) (any, string) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if args, ok := m["Fn::If"].([]any); ok && len(args) == 3 {
			inner, _ := ifTrue(args[1])
			cond, _ := args[0].(string)
			return inner, cond
		}
	}
	return v, ""
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// TestDeployTransform checks the CloudFormation template the translator makes of template.yaml
// with every feature on: the SessionAuthorizer as the contract states it, which routes it guards,
// CORS, throttling, access logs, the roles' permissions, retention and the alarm.
func TestDeployTransform(t *testing.T) {
	out := translate(t, everyFeature)
	resources, _ := out["Resources"].(map[string]any)
	res := func(name string) map[string]any {
		r, _ := resources[name].(map[string]any)
		if r == nil {
			t.Fatalf("translated template has no %s", name)
		}
		return r
	}
	api := res("HttpApi")
	body, _ := dig(api, "Properties", "Body").(map[string]any)

	t.Run("authorizer", func(t *testing.T) {
		az, _ := dig(body, "components", "securitySchemes", "SessionAuthorizer", "x-amazon-apigateway-authorizer").(map[string]any)
		uri, _ := json.Marshal(az["authorizerUri"])
		want := map[string]any{
			"type":                           "request",
			"identitySource":                 []any{"$request.header.Cookie"},
			"authorizerResultTtlInSeconds":   float64(0), // no caching: each request is decided anew
			"authorizerPayloadFormatVersion": "2.0",
			"enableSimpleResponses":          true,
		}
		for k, w := range want {
			if !reflect.DeepEqual(az[k], w) {
				t.Errorf("SessionAuthorizer %s = %v; want %v", k, az[k], w)
			}
		}
		if !strings.Contains(string(uri), `["AuthorizerFunction","Arn"]`) {
			t.Errorf("SessionAuthorizer authorizerUri = %s; want AuthorizerFunction's", uri)
		}
		// EnableFunctionDefaultPermissions: the gateway may invoke the authorizer, which has no route.
		found := false
		for _, r := range resources {
			r, _ := r.(map[string]any)
			p, _ := r["Properties"].(map[string]any)
			src, _ := json.Marshal(p["SourceArn"])
			if r["Type"] == "AWS::Lambda::Permission" && reflect.DeepEqual(symbolic(p["FunctionName"]), "${AuthorizerFunction.Arn}") &&
				p["Principal"] == "apigateway.amazonaws.com" && p["Action"] == "lambda:InvokeFunction" && strings.Contains(string(src), "/authorizers/*") {
				found = true
			}
		}
		if !found {
			t.Errorf("no AWS::Lambda::Permission lets apigateway.amazonaws.com invoke AuthorizerFunction as an authorizer")
		}
	})

	t.Run("routes", func(t *testing.T) {
		if _, ok := body["security"]; ok {
			t.Errorf("the API has a default security requirement %v; want the /auth/* routes public", body["security"])
		}
		paths, _ := body["paths"].(map[string]any)
		for p, item := range paths {
			item, cond := ifTrue(item)
			ops, _ := item.(map[string]any)
			for method, op := range ops {
				op, _ := ifTrue(op)
				security, guarded := op.(map[string]any)["security"]
				switch {
				case strings.HasPrefix(p, "/auth/") && guarded:
					t.Errorf("%s %s has security %v; want the sign-in routes public", method, p, security)
				case p == "/api/profile":
					if want := []any{map[string]any{"SessionAuthorizer": []any{}}}; !reflect.DeepEqual(security, want) {
						t.Errorf("%s %s security = %v; want %v", method, p, security, want)
					}
					if cond != "DeployExample" {
						t.Errorf("%s %s is deployed under condition %q; want DeployExample (ExampleApi=true)", method, p, cond)
					}
				}
			}
		}
		for _, p := range []string{"/auth/login", "/auth/callback", "/auth/me", "/auth/logout", "/api/profile"} {
			if _, ok := paths[p]; !ok {
				t.Errorf("no route %s", p)
			}
		}
		if c := res("ExampleProfileFunction")["Condition"]; c != "DeployExample" {
			t.Errorf("ExampleProfileFunction Condition = %v; want DeployExample", c)
		}
		if d := dig(res("ExampleProfileFunction"), "Properties", "Code"); !reflect.DeepEqual(d, map[string]any{"S3Bucket": "bucket", "S3Key": "ExampleProfileFunction.zip"}) {
			t.Errorf("ExampleProfileFunction Code = %v", d)
		}
	})

	t.Run("cors", func(t *testing.T) {
		cors, cond := ifTrue(body["x-amazon-apigateway-cors"])
		c, _ := cors.(map[string]any)
		if cond != "HasAppOrigin" || !reflect.DeepEqual(c["allowOrigins"], []any{everyFeature["AppOrigin"]}) || c["allowCredentials"] != true {
			t.Errorf("x-amazon-apigateway-cors = %v under %q; want the AppOrigin with credentials, only with HasAppOrigin", cors, cond)
		}
		raw, _ := body["x-amazon-apigateway-cors"].(map[string]any)["Fn::If"].([]any)
		if len(raw) != 3 || !reflect.DeepEqual(raw[2], map[string]any{"Ref": "AWS::NoValue"}) {
			t.Errorf("x-amazon-apigateway-cors = %v; want no CORS without AppOrigin", body["x-amazon-apigateway-cors"])
		}
	})

	t.Run("stage", func(t *testing.T) {
		var stage map[string]any
		for _, r := range resources {
			if r, _ := r.(map[string]any); r["Type"] == "AWS::ApiGatewayV2::Stage" {
				stage, _ = r["Properties"].(map[string]any)
			}
		}
		auth := map[string]any{"ThrottlingRateLimit": "${AuthRoutesRateLimit}", "ThrottlingBurstLimit": "${AuthRoutesBurstLimit}"}
		want := map[string]any{"GET /auth/login": auth, "GET /auth/callback": auth, "POST /auth/logout": auth}
		got := map[string]any{}
		routes, _ := dig(stage, "RouteSettings").(map[string]any)
		for k, v := range routes {
			s := map[string]any{}
			settings, _ := v.(map[string]any)
			for kk, vv := range settings {
				s[kk] = symbolic(vv)
			}
			got[k] = s
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stage RouteSettings = %v;\nwant %v", got, want)
		}
		def := map[string]any{}
		defaults, _ := dig(stage, "DefaultRouteSettings").(map[string]any)
		for k, v := range defaults {
			def[k] = symbolic(v)
		}
		if w := map[string]any{"ThrottlingRateLimit": "${SessionRoutesRateLimit}", "ThrottlingBurstLimit": "${SessionRoutesBurstLimit}"}; !reflect.DeepEqual(def, w) {
			t.Errorf("stage DefaultRouteSettings = %v; want %v", def, w)
		}

		logs, _ := stage["AccessLogSettings"].(map[string]any)
		if d := symbolic(logs["DestinationArn"]); d != "${ApiAccessLogGroup.Arn}" {
			t.Errorf("access log destination = %v; want ApiAccessLogGroup", d)
		}
		if r := symbolic(dig(res("ApiAccessLogGroup"), "Properties", "RetentionInDays")); r != "${LogRetentionInDays}" {
			t.Errorf("ApiAccessLogGroup RetentionInDays = %v; want LogRetentionInDays", r)
		}
		format, _ := logs["Format"].(string)
		var fields map[string]string
		if err := json.Unmarshal([]byte(format), &fields); err != nil {
			t.Fatalf("access log Format is not one JSON object: %v\n%s", err, format)
		}
		for _, k := range []string{"requestId", "routeKey", "status", "latency", "ip"} {
			if fields[k] == "" {
				t.Errorf("access log has no %q field: %s", k, format)
			}
		}
		for k, v := range fields {
			if l := strings.ToLower(v); strings.Contains(l, "header") || strings.Contains(l, "cookie") || strings.Contains(l, "querystring") || strings.Contains(l, "path") {
				t.Errorf("access log field %s = %s; never headers, cookies, the path or the query (the callback's code)", k, v)
			}
		}
	})

	t.Run("policies", func(t *testing.T) {
		wantManaged, wantFunctions := wantManagedPolicies(t), wantGrants(t)
		managed := map[string][]string{}
		for name, want := range wantManaged {
			managed[name] = grantsOf(t, name, dig(res(name), "Properties", "PolicyDocument", "Statement"))
			if got, want := grantSet(managed[name]), grantSet(want); !slices.Equal(got, want) {
				t.Errorf("%s grants = %q;\nwant %q", name, got, want)
			}
		}
		for _, fn := range templateFunctions() {
			role := res(fn.logicalID + "Role")
			if r := symbolic(dig(res(fn.logicalID), "Properties", "Role")); r != "${"+fn.logicalID+"Role.Arn}" {
				t.Errorf("%s Role = %v; want its own %sRole", fn.logicalID, r, fn.logicalID)
			}
			var got []string
			inline, _ := dig(role, "Properties", "Policies").([]any)
			for _, p := range inline {
				got = append(got, grantsOf(t, fn.logicalID, dig(p, "PolicyDocument", "Statement"))...)
			}
			arns, _ := dig(role, "Properties", "ManagedPolicyArns").([]any)
			for _, arn := range arns {
				switch a := symbolic(arn).(type) {
				case string:
					if a == "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" {
						continue // SAM's: the function's own logs
					}
					g, ok := managed[strings.TrimSuffix(strings.TrimPrefix(a, "${"), "}")]
					if !ok {
						t.Errorf("%s role has managed policy %s; want only the template's and the Lambda basic execution role", fn.logicalID, a)
					}
					got = append(got, g...)
				default:
					t.Errorf("%s role has managed policy %v", fn.logicalID, arn)
				}
			}
			if got, want := grantSet(got), grantSet(wantFunctions[fn.logicalID]); !slices.Equal(got, want) {
				t.Errorf("%s role grants = %q;\nwant %q", fn.logicalID, got, want)
			}
		}
		for name := range wantManaged {
			o, _ := dig(out, "Outputs", name+"Arn").(map[string]any)
			if symbolic(o["Value"]) != "${"+name+"}" || dig(o, "Export", "Name") == nil {
				t.Errorf("Outputs[%sArn] = %v; want the policy's ARN, exported", name, o)
			}
		}
	})

	t.Run("retain", func(t *testing.T) {
		for _, name := range []string{"SessionTable", "TokenKeySecret"} {
			r := res(name)
			if r["DeletionPolicy"] != "Retain" || r["UpdateReplacePolicy"] != "Retain" {
				t.Errorf("%s DeletionPolicy, UpdateReplacePolicy = %v, %v; want Retain, Retain", name, r["DeletionPolicy"], r["UpdateReplacePolicy"])
			}
		}
	})

	t.Run("alarm", func(t *testing.T) {
		p, _ := res("CallbackFailureAlarm")["Properties"].(map[string]any)
		want := map[string]any{
			// What the callback's log line publishes (internal/emf, internal/routes/metrics.go).
			"Namespace":          emf.Namespace,
			"MetricName":         string(emf.SignInFailures),
			"Dimensions":         []any{map[string]any{"Name": emf.RouteKey, "Value": "callback"}},
			"Statistic":          "Sum",
			"Period":             float64(300),
			"EvaluationPeriods":  float64(1),
			"Threshold":          "${CallbackFailureAlarmThreshold}",
			"ComparisonOperator": "GreaterThanOrEqualToThreshold",
			"TreatMissingData":   "notBreaching",
		}
		for k, w := range want {
			if got := symbolic(p[k]); !reflect.DeepEqual(got, w) {
				t.Errorf("CallbackFailureAlarm %s = %v; want %v", k, got, w)
			}
		}
		for _, k := range []string{"AlarmActions", "OKActions"} {
			actions, cond := ifTrue(p[k])
			if cond != "HasAlarmTopic" || !reflect.DeepEqual(actions, []any{map[string]any{"Ref": "AlarmTopicArn"}}) {
				t.Errorf("CallbackFailureAlarm %s = %v; want the AlarmTopicArn under HasAlarmTopic", k, p[k])
			}
		}
	})
}

// TestDeployDefaultTransform: with the default parameters the authorizer is there and everything of
// the example stays under its DeployExample condition (ExampleApi=false deploys none of it).
func TestDeployDefaultTransform(t *testing.T) {
	out := translate(t, map[string]string{"ClientId": everyFeature["ClientId"], "ClientSecretArn": everyFeature["ClientSecretArn"]})
	resources, _ := out["Resources"].(map[string]any)
	for name, r := range resources {
		r, _ := r.(map[string]any)
		if strings.HasPrefix(name, "ExampleProfile") && r["Condition"] != "DeployExample" {
			t.Errorf("%s has Condition %v; want DeployExample (ExampleApi=false by default)", name, r["Condition"])
		}
	}
	if _, ok := resources["AuthorizerFunction"]; !ok {
		t.Errorf("no AuthorizerFunction")
	}
}

// TestDeployDocs: README's deploy commands agree with samconfig.toml and the template:
// the stack name, CAPABILITY_IAM being enough (no named IAM resource), the metric names, the
// managed policies' outputs.
func TestDeployDocs(t *testing.T) {
	root := repoRoot(t)
	config, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^stack_name = "([^"]+)"$`).FindSubmatch(config)
	if m == nil {
		t.Fatalf("samconfig.toml has no stack_name")
	}
	wants := []string{"--stack-name " + string(m[1]) + " ", "!ImportValue " + string(m[1]) + "-", "`" + emf.Namespace + "`", "`" + emf.RouteKey + "`", "`" + emf.ReasonKey + "`"}
	for _, name := range slices.Sorted(keysOf(storecalls.Policies)) {
		wants = append(wants, "`"+name+"Arn`") // the outputs an app's function imports
	}
	for _, want := range wants {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.md does not contain %q (samconfig.toml, template.yaml)", want)
		}
	}
	if !regexp.MustCompile(`(?m)^capabilities = "CAPABILITY_IAM"$`).Match(config) {
		t.Errorf("samconfig.toml: want capabilities = \"CAPABILITY_IAM\"")
	}
	resources, _ := rawTemplate(t)["Resources"].(map[string]any)
	for name, r := range resources {
		props, _ := r.(map[string]any)["Properties"].(map[string]any)
		for _, k := range []string{"RoleName", "ManagedPolicyName", "UserName", "GroupName"} {
			if _, ok := props[k]; ok {
				t.Errorf("%s has %s: a named IAM resource needs CAPABILITY_NAMED_IAM", name, k)
			}
		}
	}
}
