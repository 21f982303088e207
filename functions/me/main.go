// Command me is the Lambda function behind the /auth/me route. It links no
// OpenID client and no secret store: it only reads sessions.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/lambdaenv"
	"github.com/serverless-signin/signin/pkg/session"
)

func main() {
	h, err := lambdaenv.Me(context.Background(), os.Getenv)
	if err != nil {
		session.NewLogger(os.Stderr).Error("cold start failed", "route", "me", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Me)
}
