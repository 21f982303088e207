// Command callback is the Lambda function behind the /auth/callback route.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/pkg/auth"
)

func main() {
	h, err := auth.FromEnv(context.Background(), auth.RouteCallback)
	if err != nil {
		auth.NewLogger(os.Stderr).Error("cold start failed", "route", "callback", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Callback)
}
