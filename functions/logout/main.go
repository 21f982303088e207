// Command logout is the Lambda function behind the /auth/logout route.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/pkg/auth"
)

func main() {
	h, err := auth.FromEnv(context.Background(), auth.RouteLogout)
	if err != nil {
		auth.NewLogger(os.Stderr).Error("cold start failed", "route", "logout", "error", err)
		os.Exit(1)
	}
	lambda.Start(h.Logout)
}
