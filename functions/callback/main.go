// Command callback is the Lambda function behind the /auth/callback route.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/internal/lambdaenv/secretenv"
	"github.com/serverless-signin/signin/pkg/session"
)

func main() {
	h, err := secretenv.Callback(context.Background(), os.Getenv)
	if err != nil {
		session.NewLogger(os.Stderr).Error("cold start failed", "route", "callback", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Callback)
}
