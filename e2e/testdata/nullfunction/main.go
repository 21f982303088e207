// Command nullfunction is the cold-start benchmark's yardstick: a Go Lambda
// function that does nothing beyond what every function must do. It decodes
// the payload-2.0 event (lambda.Start's JSON decoding) and answers a 200
// JSON, with no configuration, no AWS client and no log line. e2e's
// BenchmarkColdStart builds it with the functions' own Makefile recipe
// (-trimpath, lambda.norpc, -ldflags="-s -w") and starts it alternately with
// each function, so the ratio of their init times is this repository's
// share of a cold start.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       `{"ok":true}`,
	}, nil
}

func main() {
	lambda.Start(handle)
}
