package devserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// maxBody is API Gateway's payload limit for HTTP APIs.
const maxBody = 10 << 20

// routeKeys are the routes template.yaml declares; any other request reaches
// the handler under "$default" (Handler.Route answers it with a 404).
var routeKeys = map[string]bool{
	"GET /auth/login":    true,
	"GET /auth/callback": true,
	"GET /auth/me":       true,
	"POST /auth/logout":  true,
	"GET /api/profile":   true, // the example, behind the SessionAuthorizer
}

// The gateway's own answers when the function fails; they are not the
// handlers' JSON, so a local failure looks like the one in AWS.
const (
	bodyGatewayError    = `{"message":"Internal Server Error"}`
	bodyGatewayTooLarge = `{"message":"Request Entity Too Large"}`
)

// newEvent translates r, whose body has been read into body, into the event
// API Gateway HTTP API (payload format 2.0) would send for it.
func newEvent(r *http.Request, body []byte, now time.Time, requestID string) events.APIGatewayV2HTTPRequest {
	path := r.URL.EscapedPath()
	routeKey := r.Method + " " + path
	if !routeKeys[routeKey] {
		routeKey = "$default"
	}

	// The gateway lower-cases header names and joins repeated headers with
	// commas. Cookies leave the headers for the cookies array.
	headers := make(map[string]string, len(r.Header)+4)
	var cookies []string
	for name, values := range r.Header {
		name = strings.ToLower(name)
		if name == "cookie" {
			for _, line := range values {
				for c := range strings.SplitSeq(line, "; ") {
					if c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[name] = strings.Join(values, ",")
	}
	// net/http moves Host out of the header map; the gateway keeps it.
	headers["host"] = r.Host
	sourceIP := remoteIP(r)
	// The gateway sets the forwarding headers itself, whatever the client
	// sent: the handlers decide https and the app origin from them.
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	headers["x-forwarded-proto"] = proto
	headers["x-forwarded-port"] = localPort(r, proto)
	if prior := headers["x-forwarded-for"]; prior != "" {
		headers["x-forwarded-for"] = prior + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}

	var query map[string]string
	if values, _ := url.ParseQuery(r.URL.RawQuery); len(values) > 0 {
		query = make(map[string]string, len(values))
		for k, vs := range values {
			query[k] = strings.Join(vs, ",")
		}
	}

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "000000000000",
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        "devserver",
			DomainName:   r.Host,
			DomainPrefix: domainPrefix(r.Host),
			Time:         now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPort is the port the client connected to, as the gateway reports it
// in x-forwarded-port.
func localPort(r *http.Request, proto string) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		return port
	}
	if proto == "https" {
		return "443"
	}
	return "80"
}

// domainPrefix is the first label of the host name: "abc" for
// abc.execute-api.us-east-1.amazonaws.com.
func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	first, _, _ := strings.Cut(host, ".")
	return first
}

// invoke runs the handler the way the Lambda runtime does: the event goes
// through JSON into the handler (lambda.NewHandler is what lambda.Start
// wraps), under a context with the function's deadline and a Lambda request
// id, and the response comes back through JSON. A handler error or a missed
// deadline is what the gateway answers for a failed function: a bare 500.
func invoke(ctx context.Context, h lambda.Handler, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	// The runtime turns a panic into a function error, not a dead process.
	defer func() {
		if v := recover(); v != nil {
			resp, err = events.APIGatewayV2HTTPResponse{}, fmt.Errorf("devserver: function panicked: %v", v)
		}
	}()
	payload, err := json.Marshal(ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("devserver: encode event: %w", err)
	}
	out, err := h.Invoke(ctx, payload)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("devserver: function error: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("devserver: function timed out: %w", err)
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("devserver: decode response: %w", err)
	}
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("devserver: response status %d", resp.StatusCode)
	}
	return resp, nil
}

// lambdaContext gives ctx what the Lambda runtime gives a function: a
// deadline and an invocation id (the handlers log it as request_id).
func lambdaContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       newUUID(),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:000000000000:function:devserver",
	}), cancel
}

// writeResponse writes a payload-2.0 response as API Gateway does: headers,
// then multi-value headers, every cookie as its own Set-Cookie, the body
// decoded when it is base64.
func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeGatewayError(w, http.StatusInternalServerError, bodyGatewayError)
			return
		}
		body = b
	}
	h := w.Header()
	for name, v := range resp.Headers {
		h.Set(name, v)
	}
	for name, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(name, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	w.Write(body) //nolint:errcheck // the client went away; nothing to do.
}

func writeGatewayError(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body)) //nolint:errcheck // the client went away; nothing to do.
}

// newGatewayRequestID looks like API Gateway's requestContext.requestId.
func newGatewayRequestID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// newUUID is a random (version 4) UUID, the shape of a Lambda request id.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	s := hex.EncodeToString(b)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}
