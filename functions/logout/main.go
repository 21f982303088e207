// Command logout is the Lambda function behind the /auth/logout route.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/pkg/session"
)

func main() {
	h, err := secretenv.Logout(context.Background(), os.Getenv)
	if err != nil {
		session.NewLogger(os.Stderr).Error("cold start failed", "route", "logout", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Logout)
}
