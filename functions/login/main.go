// Command login is the Lambda function behind the /auth/login route. It
// needs no client secret.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/lambdaenv/oidcenv"
	"github.com/serverless-signin/signin/pkg/session"
)

func main() {
	h, err := oidcenv.Login(context.Background(), os.Getenv)
	if err != nil {
		session.NewLogger(os.Stderr).Error("cold start failed", "route", "login", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Login)
}
