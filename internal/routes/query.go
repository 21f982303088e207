package routes

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// errBadQuery is a query string that two parsers could read differently.
var errBadQuery = errors.New("routes: ambiguous query string")

// strictQuery parses the request's query so that no other parser can read it
// differently: invalid percent-encoding, a ";" separator or a repeated
// parameter is an error. When rawQueryString is empty (some emulators) it
// falls back to queryStringParameters, where API Gateway joins repeated
// parameters with commas: a comma in one of the single-valued names is then
// an error too.
func strictQuery(req events.APIGatewayV2HTTPRequest, singleValued ...string) (map[string]string, error) {
	if req.RawQueryString == "" {
		for _, name := range singleValued {
			if strings.Contains(req.QueryStringParameters[name], ",") {
				return nil, fmt.Errorf("%w: %q may be repeated", errBadQuery, name)
			}
		}
		return req.QueryStringParameters, nil
	}
	values, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadQuery, err)
	}
	q := make(map[string]string, len(values))
	for k, vs := range values {
		if len(vs) != 1 {
			return nil, fmt.Errorf("%w: %q repeated", errBadQuery, k)
		}
		q[k] = vs[0]
	}
	return q, nil
}
