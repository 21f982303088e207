// Command profile is an EXAMPLE protected function, not part of the sign-in
// service: GET /api/profile behind the SessionAuthorizer (template.yaml
// deploys it only with ExampleApi=true). It answers with the signed-in
// user and the provider's userinfo, fetched with the user's access token;
// the logic is in package profile.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/examples/profile/profile"
	"github.com/serverless-signin/signin/pkg/auth"
)

func main() {
	logger := auth.NewLogger(os.Stderr)
	sessions, err := auth.SessionsFromEnv(context.Background()) // the functions' variables, once per container
	if err != nil {
		logger.Error("cold start failed", "route", "profile", "error", err)
		os.Exit(1)
	}
	h := &profile.Handler{Sessions: sessions, Logger: logger}
	lambda.Start(h.Profile)
}
