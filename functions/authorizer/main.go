// Command authorizer is the HTTP API's Lambda authorizer (SessionAuthorizer)
// in front of the app's own routes: the session cookie decides, the context
// carries the user. Like me, it links no OpenID client and no secret store.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/pkg/session"
)

func main() {
	h, err := lambdaenv.Authorizer(context.Background(), os.Getenv)
	if err != nil {
		session.NewLogger(os.Stderr).Error("cold start failed", "route", "authorizer", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Authorize)
}
