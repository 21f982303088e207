package auth_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/serverless-signin/signin/pkg/auth"
)

// The signed-in user in one of the app's own functions: 401 when nobody is
// signed in, 500 when the session could not be read.
func ExampleSessions() {
	sessions, err := auth.SessionsFromEnv(context.Background()) // once per container
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		sess, err := sessions.FromRequest(ctx, req)
		switch {
		case errors.Is(err, auth.ErrNotSignedIn):
			return events.APIGatewayV2HTTPResponse{StatusCode: 401}, nil
		case err != nil:
			return events.APIGatewayV2HTTPResponse{StatusCode: 500}, nil
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "Hello, " + sess.User.Name}, nil
	})
}

// GET /api/profile calls a provider API on the user's behalf. The access
// token is refreshed when needed, once across all containers; it never
// reaches the browser. ErrSignInAgain (the refresh token is dead) is also an
// ErrNotSignedIn, so one check answers 401 for both.
func ExampleSessions_AccessToken() {
	sessions, err := auth.SessionsFromEnv(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	profileURL := os.Getenv("OAUTH_ISSUER") + "/userinfo" // any provider API

	lambda.Start(func(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		sess, err := sessions.FromRequest(ctx, req)
		var token string
		if err == nil {
			token, err = sessions.AccessToken(ctx, sess)
		}
		switch {
		case errors.Is(err, auth.ErrNotSignedIn):
			return events.APIGatewayV2HTTPResponse{StatusCode: 401}, nil
		case err != nil:
			return events.APIGatewayV2HTTPResponse{StatusCode: 500}, nil
		}

		call, _ := http.NewRequestWithContext(ctx, http.MethodGet, profileURL, nil)
		call.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(call)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{StatusCode: 502}, nil
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return events.APIGatewayV2HTTPResponse{
			StatusCode: res.StatusCode,
			Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
			Body:       string(body),
		}, nil
	})
}
