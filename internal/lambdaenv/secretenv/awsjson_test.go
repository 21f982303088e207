package secretenv

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// awsCall is one request the fake service received.
type awsCall struct {
	header http.Header
	body   string
	path   string
}

// fakeService answers with answers[i] for the i-th request (the last one
// again after that); a status of 0 closes the connection without an answer.
type fakeService struct {
	*httptest.Server
	mu    sync.Mutex
	calls []awsCall
}

type cannedAnswer struct {
	status int
	header map[string]string
	body   string
}

func startFakeService(t *testing.T, answers ...cannedAnswer) *fakeService {
	t.Helper()
	f := &fakeService{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, awsCall{r.Header.Clone(), string(b), r.URL.Path})
		a := answers[min(len(f.calls), len(answers))-1]
		f.mu.Unlock()
		if a.status == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeService) Calls() []awsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]awsCall(nil), f.calls...)
}

// noRetryDelay makes the retry immediate for the test.
func noRetryDelay(t *testing.T) {
	old := retryDelay
	retryDelay = func() time.Duration { return 0 }
	t.Cleanup(func() { retryDelay = old })
}

func testAWSConfig(sessionToken string) aws.Config {
	return aws.Config{
		Region:      "eu-west-3",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken),
		HTTPClient:  http.DefaultClient,
	}
}

var authorizationRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/(\d{8})/eu-west-3/(\w+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// The request is one POST of the AWS JSON 1.1 protocol, signed with SigV4
// for the service and region over exactly the headers and body sent: a
// signature recomputed from what the server received matches.
func TestAWSJSONRequest(t *testing.T) {
	for _, tt := range []struct {
		name, secret, param   string
		target, service, body string
	}{
		{name: "secrets manager", secret: "arn:aws:secretsmanager:eu-west-3:123456789012:secret:x-AbCdEf",
			target: "secretsmanager.GetSecretValue", service: "secretsmanager",
			body: `{"SecretId":"arn:aws:secretsmanager:eu-west-3:123456789012:secret:x-AbCdEf"}`},
		{name: "ssm", param: "/signin/client-secret",
			target: "AmazonSSM.GetParameter", service: "ssm",
			body: `{"Name":"/signin/client-secret","WithDecryption":true}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeService(t, cannedAnswer{200, nil,
				`{"SecretString":"s3cret","Parameter":{"Name":"/signin/client-secret","Type":"SecureString","Value":"s3cret"}}`})
			vars := map[string]string{
				"OAUTH_CLIENT_SECRET_ARN":          tt.secret,
				"OAUTH_CLIENT_SECRET_PARAMETER":    tt.param,
				"AWS_ENDPOINT_URL_SECRETS_MANAGER": f.URL,
				"AWS_ENDPOINT_URL_SSM":             f.URL,
			}
			got, err := clientSecret(context.Background(), testAWSConfig("session-token-1"), env(vars))
			if err != nil || got != "s3cret" {
				t.Fatalf("clientSecret = %q, %v; want s3cret", got, err)
			}
			calls := f.Calls()
			if len(calls) != 1 {
				t.Fatalf("%d requests; want 1", len(calls))
			}
			c := calls[0]
			if c.path != "/" || c.body != tt.body {
				t.Errorf("request %s %s; want / %s", c.path, c.body, tt.body)
			}
			for k, want := range map[string]string{
				"Content-Type":         "application/x-amz-json-1.1",
				"X-Amz-Target":         tt.target,
				"X-Amz-Security-Token": "session-token-1",
			} {
				if got := c.header.Get(k); got != want {
					t.Errorf("%s = %q; want %q", k, got, want)
				}
			}
			m := authorizationRE.FindStringSubmatch(c.header.Get("Authorization"))
			if m == nil {
				t.Fatalf("Authorization = %q; want SigV4 for AKIDEXAMPLE in eu-west-3", c.header.Get("Authorization"))
			}
			if m[2] != tt.service {
				t.Errorf("signed for service %q; want %q", m[2], tt.service)
			}
			signed := strings.Split(m[3], ";")
			for _, h := range []string{"content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"} {
				if !strings.Contains(";"+m[3]+";", ";"+h+";") {
					t.Errorf("SignedHeaders %s; want %s among them", m[3], h)
				}
			}
			// Re-sign what arrived, with the signed headers alone, at the request's time.
			when, err := time.Parse("20060102T150405Z", c.header.Get("X-Amz-Date"))
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, f.URL+c.path, strings.NewReader(c.body))
			for _, h := range signed {
				if h != "host" && h != "content-length" {
					req.Header.Set(h, c.header.Get(h))
				}
			}
			req.Header.Del("X-Amz-Date")
			req.Header.Del("X-Amz-Security-Token")
			creds, _ := testAWSConfig("session-token-1").Credentials.Retrieve(context.Background())
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(c.body), tt.service, "eu-west-3", when); err != nil {
				t.Fatal(err)
			}
			if got, want := c.header.Get("Authorization"), req.Header.Get("Authorization"); got != want {
				t.Errorf("Authorization = %q;\nrecomputed from the request received: %q", got, want)
			}
		})
	}
}

func sha256Hex(s string) string {
	return payloadSHA256([]byte(s))
}

// Errors carry the operation, the status, the AWS error type and message and
// (from clientSecret) the variable, never the secret; 5xx answers, throttling
// and transport errors are retried once, other errors not at all.
func TestAWSJSONErrors(t *testing.T) {
	noRetryDelay(t)
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"
	ok := cannedAnswer{200, nil, `{"ARN":"` + arn + `","SecretString":"s3cret-value"}`}
	for _, tt := range []struct {
		name     string
		answers  []cannedAnswer
		wantErr  []string // substrings of the error; none: success
		wantType string   // the smithy.APIError code
		requests int
	}{
		{name: "not found", answers: []cannedAnswer{{400, nil, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`}},
			wantErr:  []string{"OAUTH_CLIENT_SECRET_ARN", "Secrets Manager", "GetSecretValue", "HTTP 400", "ResourceNotFoundException: Secrets Manager can't find the specified secret."},
			wantType: "ResourceNotFoundException", requests: 1},
		{name: "denied, namespaced type and Message", answers: []cannedAnswer{{400, map[string]string{"X-Amzn-RequestId": "req-1"},
			`{"__type":"com.amazonaws.secretsmanager#AccessDeniedException","Message":"User is not authorized"}`}},
			wantErr:  []string{"OAUTH_CLIENT_SECRET_ARN", "AccessDeniedException: User is not authorized", "request id req-1"},
			wantType: "AccessDeniedException", requests: 1},
		{name: "type in the header", answers: []cannedAnswer{{403, map[string]string{"X-Amzn-ErrorType": "UnrecognizedClientException:http://internal.amazon.com/coral/"}, `{"message":"The security token included in the request is invalid."}`}},
			wantErr: []string{"HTTP 403: UnrecognizedClientException: The security token"}, wantType: "UnrecognizedClientException", requests: 1},
		{name: "not JSON", answers: []cannedAnswer{{403, nil, `<html>Forbidden</html>`}},
			wantErr: []string{"OAUTH_CLIENT_SECRET_ARN", "HTTP 403"}, requests: 1},
		{name: "5xx, then ok", answers: []cannedAnswer{{500, nil, `{"__type":"InternalServiceError","message":"oops"}`}, ok}, requests: 2},
		{name: "503 twice", answers: []cannedAnswer{{503, nil, `{"__type":"ServiceUnavailable"}`}},
			wantErr: []string{"OAUTH_CLIENT_SECRET_ARN", "HTTP 503: ServiceUnavailable"}, wantType: "ServiceUnavailable", requests: 2},
		{name: "throttled, then ok", answers: []cannedAnswer{{400, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`}, ok}, requests: 2},
		{name: "unnamed 429, then ok", answers: []cannedAnswer{{429, nil, ``}, ok}, requests: 2},
		{name: "connection closed, then ok", answers: []cannedAnswer{{0, nil, ""}, ok}, requests: 2},
		{name: "connection closed twice", answers: []cannedAnswer{{0, nil, ""}},
			wantErr: []string{"OAUTH_CLIENT_SECRET_ARN", "GetSecretValue"}, requests: 2},
		{name: "answer not JSON", answers: []cannedAnswer{{200, nil, `{"SecretString":"s3cret-value"`}},
			wantErr: []string{"OAUTH_CLIENT_SECRET_ARN", "not the expected JSON"}, requests: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeService(t, tt.answers...)
			vars := map[string]string{"OAUTH_CLIENT_SECRET_ARN": arn, "AWS_ENDPOINT_URL_SECRETS_MANAGER": f.URL}
			got, err := clientSecret(context.Background(), testAWSConfig(""), env(vars))
			if n := len(f.Calls()); n != tt.requests {
				t.Errorf("%d requests; want %d", n, tt.requests)
			}
			if tt.wantErr == nil {
				if err != nil || got != "s3cret-value" {
					t.Errorf("clientSecret = %q, %v; want the secret", got, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("clientSecret = %q, nil; want an error", got)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q; want it to contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q echoes the secret", err)
			}
			var apiErr smithy.APIError
			if tt.wantType != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantType) {
				t.Errorf("error %v: smithy.APIError code %v; want %s", err, apiErr, tt.wantType)
			}
		})
	}
}

// A context that ends stops the retry: the read fails within its deadline.
func TestAWSJSONDeadline(t *testing.T) {
	f := startFakeService(t, cannedAnswer{503, nil, `{"__type":"ServiceUnavailable"}`})
	old := retryDelay
	retryDelay = func() time.Duration { return time.Minute }
	t.Cleanup(func() { retryDelay = old })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := secretString(ctx, testAWSConfig(""), env(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": f.URL}), "x")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("secretString with a 200 ms deadline = %v after %v; want an error at the deadline", err, time.Since(start))
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("%d requests; want 1 (the deadline falls in the retry delay)", n)
	}
}

// The endpoint: the AWS_ENDPOINT_URL_* override read through getenv, else
// the service's regional endpoint.
func TestAWSJSONEndpoint(t *testing.T) {
	for _, tt := range []struct {
		svc     awsService
		region  string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{svc: secretsManager, region: "us-east-1", want: "https://secretsmanager.us-east-1.amazonaws.com/"},
		{svc: ssmService, region: "eu-central-2", want: "https://ssm.eu-central-2.amazonaws.com/"},
		{svc: ssmService, region: "us-gov-west-1", want: "https://ssm.us-gov-west-1.amazonaws.com/"},
		{svc: secretsManager, region: "cn-north-1", want: "https://secretsmanager.cn-north-1.amazonaws.com.cn/"},
		{svc: ssmService, region: "us-east-1", vars: map[string]string{"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:4566"}, want: "http://127.0.0.1:4566/"},
		{svc: ssmService, region: "us-east-1", vars: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4566"}, want: "https://ssm.us-east-1.amazonaws.com/"},
		{svc: secretsManager, vars: map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://localhost:4566/"}, want: "http://localhost:4566/"},
		{svc: secretsManager, region: "", wantErr: "AWS_REGION"},
		{svc: secretsManager, region: "evil.example/x?", wantErr: "AWS_REGION"},
		{svc: ssmService, region: "us-east-1", vars: map[string]string{"AWS_ENDPOINT_URL_SSM": "localhost:4566"}, wantErr: "AWS_ENDPOINT_URL_SSM"},
	} {
		got, err := tt.svc.endpoint(tt.region, env(tt.vars))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s endpoint(%q, %v) = %q, %v; want an error naming %s", tt.svc.name, tt.region, tt.vars, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s endpoint(%q, %v) = %q, %v; want %q", tt.svc.name, tt.region, tt.vars, got, err, tt.want)
		}
	}
}

// The read goes through the configuration's HTTP client (lambdaenv.AWSConfig's
// timeouts), with its credentials; without credentials it fails unsent.
func TestAWSJSONClientAndCredentials(t *testing.T) {
	f := startFakeService(t, cannedAnswer{200, nil, `{"SecretString":"s3cret"}`})
	vars := env(map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": f.URL})
	rec := &recordingClient{}
	cfg := testAWSConfig("")
	cfg.HTTPClient = rec
	if s, err := secretString(context.Background(), cfg, vars, "x"); err != nil || s != "s3cret" || rec.n != 1 {
		t.Errorf("secretString = %q, %v with %d requests through the configured client; want s3cret, 1", s, err, rec.n)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider("", "", "")
	if _, err := secretString(context.Background(), cfg, vars, "x"); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("secretString without credentials = %v; want a credentials error", err)
	}
	if n := len(f.Calls()); n != 1 {
		t.Errorf("%d requests; want 1 (none without credentials)", n)
	}
}

type recordingClient struct{ n int }

func (c *recordingClient) Do(r *http.Request) (*http.Response, error) {
	c.n++
	return http.DefaultClient.Do(r)
}
