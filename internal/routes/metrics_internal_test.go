package routes

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/serverless-signin/signin/internal/emf"
)

// configGaps are the failure details that rightly count as internal: the
// wiring built login or callback without what it needs, or a panic.
var configGaps = []string{"no provider", "no redirect uri", "panic"}

// failDetails returns the detail of every x.fail call in a source file: a
// string literal, or the literal prefix of a concatenation (marked with a
// trailing "+"). Any other expression fails the test: the metric reasons
// are keyed by these strings.
func failDetails(t *testing.T, file string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "fail" || len(call.Args) != 3 {
			return true
		}
		var lit *ast.BasicLit
		suffix := ""
		switch arg := call.Args[1].(type) {
		case *ast.BasicLit:
			lit = arg
		case *ast.BinaryExpr:
			if l, ok := arg.X.(*ast.BasicLit); ok && arg.Op == token.ADD {
				lit, suffix = l, "+"
			}
		}
		if lit == nil || lit.Kind != token.STRING {
			t.Errorf("%s: x.fail detail is not a string literal (or literal + value); metrics.go cannot map it", fset.Position(call.Pos()))
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			t.Fatal(err)
		}
		details = append(details, s+suffix)
		return true
	})
	return details
}

// Every way login and callback fail has its own reason: each detail their
// x.fail calls use maps to a reason other than internal (configuration gaps
// aside), and the table names no detail the code no longer uses.
func TestFailureReasons(t *testing.T) {
	used := map[string]bool{"panic": true} // serve's, for any route
	for _, file := range []string{"login.go", "callback.go"} {
		details := failDetails(t, file)
		if len(details) == 0 {
			t.Fatalf("%s: found no x.fail call", file)
		}
		for _, d := range details {
			used[d] = true
			detail := d
			if prefix, ok := strings.CutSuffix(d, "+"); ok {
				if prefix != providerErrorPrefix {
					t.Errorf("%s: x.fail detail %q + value; only %q may carry a value", file, prefix, providerErrorPrefix)
					continue
				}
				detail = prefix + "access_denied"
			} else if _, ok := failureReasons[d]; !ok {
				t.Errorf("%s: x.fail detail %q is not in failureReasons (metrics.go); it would count as internal", file, d)
				continue
			}
			reason := failureReason(detail)
			if reason == emf.ReasonInternal && !slices.Contains(configGaps, d) {
				t.Errorf("%s: detail %q counts as %s; want a reason that says what failed", file, d, reason)
			}
			if reason != emf.ReasonInternal && slices.Contains(configGaps, d) {
				t.Errorf("%s: configuration gap %q counts as %s; want %s", file, d, reason, emf.ReasonInternal)
			}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(failureReasons)) {
		if !used[d] {
			t.Errorf("failureReasons maps %q, which neither login.go nor callback.go logs", d)
		}
	}
	if got := failureReason("provider error: login_required"); got != emf.ReasonProviderDenied {
		t.Errorf("failureReason(provider error) = %q; want %q", got, emf.ReasonProviderDenied)
	}
	if got := failureReason("something new"); got != emf.ReasonInternal {
		t.Errorf("failureReason(unmapped) = %q; want %q", got, emf.ReasonInternal)
	}
}

// What each route's line counts, by status: /auth/me and the refusals of
// logout count nothing.
func TestMetricByRoute(t *testing.T) {
	tests := []struct {
		r      route
		status int
		detail string
		want   emf.Metric
		reason string
	}{
		{routeCallback, 302, "", emf.SignIns, ""},
		{routeCallback, 302, "end older session: boom", emf.SignIns, ""}, // a note does not make it a failure
		{routeCallback, 400, "missing state", emf.SignInFailures, emf.ReasonInvalidCallback},
		{routeCallback, 500, "create session", emf.SignInFailures, emf.ReasonStorage},
		{routeLogin, 302, "", "", ""},
		{routeLogin, 500, "put state", emf.SignInFailures, emf.ReasonStorage},
		{routeLogin, 500, "panic", emf.SignInFailures, emf.ReasonInternal},
		{routeLogout, 302, "revoke", emf.SignOuts, ""},
		{routeLogout, 403, "foreign origin", "", ""},
		{routeLogout, 500, "delete session", "", ""},
		{routeMe, 200, "", "", ""},
		{routeMe, 500, "get session", "", ""},
	}
	for _, tt := range tests {
		m, reason, ok := metric(tt.r, tt.status, tt.detail)
		if m != tt.want || reason != tt.reason || ok != (tt.want != "") {
			t.Errorf("metric(%s, %d, %q) = %q, %q, %t; want %q, %q", tt.r, tt.status, tt.detail, m, reason, ok, tt.want, tt.reason)
		}
	}
}
