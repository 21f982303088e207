package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"log"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/pkg/auth"
)

// A function behind the SessionAuthorizer (template.yaml: Auth: Authorizer:
// SessionAuthorizer on its HttpApi event) gets the user from the request
// without a store read; AccessToken reads (and refreshes) the provider
// token only when the function needs one. ErrSignInAgain is also an
// ErrNotSignedIn: one check answers 401 for both.
func ExampleFromAuthorizer() {
	sessions, err := auth.SessionsFromEnv(context.Background()) // once per container
	if err != nil {
		log.Fatal(err)
	}
	reply := func(status int, v any) (events.APIGatewayV2HTTPResponse, error) {
		body, _ := json.Marshal(v)
		return events.APIGatewayV2HTTPResponse{
			StatusCode: status,
			Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
			Body:       string(body),
		}, nil
	}
	lambda.Start(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		sess, err := auth.FromAuthorizer(req) // no store read: the authorizer just looked it up
		if err != nil {
			return reply(401, map[string]string{"error": "Sign in again"})
		}
		token, err := sessions.AccessToken(ctx, sess)
		switch {
		case errors.Is(err, auth.ErrNotSignedIn):
			return reply(401, map[string]string{"error": "Sign in again"})
		case err != nil:
			return reply(500, map[string]string{"error": "Internal error"})
		}
		info, err := sessions.OAuth.UserInfo(ctx, token, sess.User.Subject) // the provider, on the user's behalf
		if err != nil {
			return reply(502, map[string]string{"error": "Provider unavailable"})
		}
		return reply(200, map[string]any{"id": sess.User.Subject, "name": sess.User.Name, "email_verified": info.EmailVerified})
	})
}
