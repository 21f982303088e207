package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// ProtectedPrefix is where the app's own routes live; each runs behind the
// session authorizer, as template.yaml's routes with
// Auth: Authorizer: SessionAuthorizer do.
const ProtectedPrefix = "/api/"

// The gateway's own answers in front of a protected route.
const (
	bodyGatewayUnauthorized = `{"message":"Unauthorized"}`
	bodyGatewayForbidden    = `{"message":"Forbidden"}`
	bodyGatewayNotFound     = `{"message":"Not Found"}`
)

// serveProtected is one request to a protected route, as API Gateway runs
// it: no such route is 404; a request without a Cookie header (the
// authorizer's identity source) is 401 without invoking the authorizer;
// the authorizer's refusal is 403 and its failure 500; an allowed request
// reaches the route with the authorizer's context at
// requestContext.authorizer.lambda. No result is cached (TTL 0).
func (s *Server) serveProtected(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	requestID := newGatewayRequestID()
	w.Header().Set("Apigw-Requestid", requestID)

	fn, ok := s.protected[r.Method+" "+r.URL.EscapedPath()]
	if !ok {
		writeGatewayError(w, http.StatusNotFound, bodyGatewayNotFound)
		return
	}
	if len(r.Header.Values("Cookie")) == 0 {
		writeGatewayError(w, http.StatusUnauthorized, bodyGatewayUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeGatewayError(w, http.StatusRequestEntityTooLarge, bodyGatewayTooLarge)
		return
	case err != nil:
		return
	}
	ev := newEvent(r, body, now, requestID)

	ctx, cancel := lambdaContext(context.WithoutCancel(r.Context()), s.timeout)
	answer, err := invokeAuthorizer(ctx, s.authorizer, newAuthorizerEvent(ev, r))
	cancel()
	switch {
	case err != nil:
		s.logger.ErrorContext(ctx, "devserver: authorizer failed", "request_id", requestID, "route", ev.RouteKey, "error", err.Error())
		writeGatewayError(w, http.StatusInternalServerError, bodyGatewayError)
		return
	case !answer.IsAuthorized:
		writeGatewayError(w, http.StatusForbidden, bodyGatewayForbidden)
		return
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: answer.Context}

	ctx, cancel = lambdaContext(context.WithoutCancel(r.Context()), s.timeout)
	defer cancel()
	resp, err := invoke(ctx, fn, ev)
	if err != nil {
		s.logger.ErrorContext(ctx, "devserver: function failed", "request_id", requestID, "route", ev.RouteKey, "error", err.Error())
		writeGatewayError(w, http.StatusInternalServerError, bodyGatewayError)
		return
	}
	writeResponse(w, resp)
}

// newAuthorizerEvent is the event the gateway sends a Lambda authorizer
// (payload 2.0) for the route's event ev: the same request, with the Cookie
// header as the identity source and among the headers.
func newAuthorizerEvent(ev events.APIGatewayV2HTTPRequest, r *http.Request) events.APIGatewayV2CustomAuthorizerV2Request {
	cookie := strings.Join(r.Header.Values("Cookie"), "; ")
	headers := make(map[string]string, len(ev.Headers)+1)
	for k, v := range ev.Headers {
		headers[k] = v
	}
	headers["cookie"] = cookie
	rc := ev.RequestContext
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              fmt.Sprintf("arn:aws:execute-api:us-east-1:%s:%s/%s/%s%s", rc.AccountID, rc.APIID, rc.Stage, rc.HTTP.Method, rc.HTTP.Path),
		IdentitySource:        []string{cookie},
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        rc,
		PathParameters:        map[string]string{},
		StageVariables:        map[string]string{},
	}
}

// invokeAuthorizer runs the authorizer as Lambda does (see invoke): the
// event and the answer go through JSON, so the context reaches the route
// as the gateway passes it (expires_at a JSON number).
func invokeAuthorizer(ctx context.Context, h lambda.Handler, ev events.APIGatewayV2CustomAuthorizerV2Request) (answer events.APIGatewayV2CustomAuthorizerSimpleResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			answer, err = events.APIGatewayV2CustomAuthorizerSimpleResponse{}, fmt.Errorf("devserver: authorizer panicked: %v", v)
		}
	}()
	payload, err := json.Marshal(ev)
	if err != nil {
		return answer, fmt.Errorf("devserver: encode authorizer event: %w", err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return answer, fmt.Errorf("devserver: authorizer error: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return answer, fmt.Errorf("devserver: authorizer timed out: %w", err)
	}
	if err := json.Unmarshal(out, &answer); err != nil {
		return answer, fmt.Errorf("devserver: decode authorizer answer: %w", err)
	}
	return answer, nil
}
