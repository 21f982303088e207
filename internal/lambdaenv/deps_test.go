package lambdaenv_test

import (
	"os/exec"
	"strings"
	"testing"
)

// Each function binary links only what its route uses (go version -m lists
// what a binary imports, so this is a rule on imports): me and the
// authorizer read sessions and carry no OpenID client, JWT library nor the
// app-facing facade; login reads no secret. No function links the SDK's
// Secrets Manager or SSM client: callback and logout read their secrets with
// one signed AWS JSON call each (secretenv), since those clients' package
// init cost them about 3 ms of cold start (BENCHMARKS.md). go list reads the
// import graph without building anything.
func TestFunctionDeps(t *testing.T) {
	openID := []string{"github.com/coreos/go-oidc", "github.com/go-jose/go-jose", "golang.org/x/oauth2", "github.com/serverless-signin/signin/pkg/oauth"}
	secrets := []string{"github.com/aws/aws-sdk-go-v2/service/secretsmanager", "github.com/aws/aws-sdk-go-v2/service/ssm"}
	facade := []string{"github.com/serverless-signin/signin/pkg/auth"}
	// AWSConfig builds the configuration from Lambda's environment: the SDK's
	// default chain (config, SSO, STS) cost each cold start (BENCHMARKS.md).
	sdkChain := []string{"github.com/aws/aws-sdk-go-v2/config"}
	for _, tt := range []struct {
		function  string
		forbidden [][]string
	}{
		{"me", [][]string{openID, secrets, facade, sdkChain}},
		{"authorizer", [][]string{openID, secrets, facade, sdkChain}},
		{"login", [][]string{secrets, facade, sdkChain}},
		{"callback", [][]string{secrets, facade, sdkChain}},
		{"logout", [][]string{secrets, facade, sdkChain}},
	} {
		t.Run(tt.function, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "github.com/serverless-signin/signin/functions/"+tt.function).Output()
			if err != nil {
				t.Fatalf("go list -deps functions/%s: %v", tt.function, err)
			}
			deps := strings.Fields(string(out))
			for _, group := range tt.forbidden {
				for _, prefix := range group {
					for _, d := range deps {
						// Third-party modules by prefix, the module's own packages
						// exactly (a subpackage of pkg/oauth would be its own entry).
						own := strings.HasPrefix(prefix, "github.com/serverless-signin/")
						if d == prefix || (!own && strings.HasPrefix(d, prefix+"/")) {
							t.Errorf("functions/%s imports %s", tt.function, d)
						}
					}
				}
			}
		})
	}
}
