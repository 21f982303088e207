package secretenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// The two secret reads are single AWS JSON 1.1 calls made once per container,
// written here rather than with the SDK's service/ssm and
// service/secretsmanager clients: those packages build schema and endpoint
// tables for their whole API at package init, which cost callback and logout
// about 3 ms of every cold start (2.8 ms of it SSM's), most of the gap to
// docs/contract.md §7's 2.5× target (BENCHMARKS.md has the figures). The
// request is signed with the SDK's own SigV4 signer.

// awsService is one AWS service spoken to with the JSON 1.1 protocol.
type awsService struct {
	name        string // for errors: "Secrets Manager"
	signingName string // SigV4 service name and endpoint prefix
	target      string // X-Amz-Target prefix
	endpointEnv string // the SDK's endpoint override variable
}

var (
	secretsManager = awsService{"Secrets Manager", "secretsmanager", "secretsmanager", envSecretsEndpoint}
	ssmService     = awsService{"SSM", "ssm", "AmazonSSM", envSSMEndpoint}
)

const (
	// awsAttempts is the SDK's configuration (lambdaenv.AWSConfig): one
	// retry on a 5xx answer, throttling or a transport error.
	awsAttempts = 2
	// maxAnswer bounds what is read of an answer: a secret is at most
	// 64 KiB, a parameter 8 KiB.
	maxAnswer = 1 << 20
)

// retryDelay is the wait before the retry: full jitter up to a second (the
// SDK's first delay is up to 2 s; a cold start's read has 5 s in all).
var retryDelay = func() time.Duration { return rand.N(time.Second) }

// throttleTypes are the error types the SDK retries besides 5xx answers
// (aws/retry: DefaultThrottleErrorCodes and DefaultRetryableErrorCodes).
var throttleTypes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottledException": true, "TooManyRequestsException": true,
	"ProvisionedThroughputExceededException": true, "TransactionInProgressException": true,
	"RequestLimitExceeded": true, "BandwidthLimitExceeded": true, "LimitExceededException": true,
	"RequestThrottled": true, "SlowDown": true, "PriorRequestNotComplete": true,
	"EC2ThrottledException": true, "RequestTimeout": true, "RequestTimeoutException": true,
}

// awsError is an AWS service's error answer. It satisfies smithy.APIError,
// as the SDK clients' errors did. Its text carries the operation, the
// HTTP status, the AWS error type and message, never the request.
type awsError struct {
	op        string // "secretsmanager.GetSecretValue"
	status    int
	typ       string // "ResourceNotFoundException"; "" when the answer named none
	message   string
	requestID string
}

func (e *awsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.op, e.status)
	if e.typ != "" {
		b.WriteString(": " + e.typ)
	}
	if e.message != "" {
		b.WriteString(": " + e.message)
	}
	if e.requestID != "" {
		b.WriteString(" (request id " + e.requestID + ")")
	}
	return b.String()
}

func (e *awsError) ErrorCode() string    { return e.typ }
func (e *awsError) ErrorMessage() string { return e.message }
func (e *awsError) ErrorFault() smithy.ErrorFault {
	if e.status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}
func (e *awsError) HTTPStatusCode() int { return e.status }

// retryable is the SDK's rule: 5xx, an unnamed 429 and throttling.
func (e *awsError) retryable() bool {
	return e.status >= 500 || (e.status == http.StatusTooManyRequests && e.typ == "") || throttleTypes[e.typ]
}

// callAWSJSON makes one AWS JSON 1.1 call (op is the operation, e.g.
// "GetSecretValue") with awsCfg's credentials, region and HTTP client, at
// the service's regional endpoint or its AWS_ENDPOINT_URL_* override read
// through getenv, and decodes the answer into out. A 5xx answer, throttling
// or a transport error is retried once, as the SDK does with two attempts.
func callAWSJSON(ctx context.Context, awsCfg aws.Config, getenv func(string) string, svc awsService, op string, in, out any) error {
	name := svc.target + "." + op
	endpoint, err := svc.endpoint(awsCfg.Region, getenv)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if awsCfg.Credentials == nil {
		return fmt.Errorf("%s: no AWS credentials", name)
	}
	creds, err := awsCfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("%s: AWS credentials: %w", name, err)
	}
	hc := awsCfg.HTTPClient
	if hc == nil {
		hc = awshttp.NewBuildableClient()
	}
	payloadHash := payloadSHA256(body)
	signer := v4.NewSigner()
	for attempt := 1; ; attempt++ {
		answer, err := attemptAWSJSON(ctx, hc, signer, creds, awsCfg.Region, svc, name, endpoint, body, payloadHash)
		if err == nil {
			if json.Unmarshal(answer, out) != nil {
				// The decoder's message may quote the answer, which holds the secret.
				return fmt.Errorf("%s: the answer is not the expected JSON", name)
			}
			return nil
		}
		if attempt >= awsAttempts || !retryableErr(ctx, err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retryDelay()):
		}
	}
}

// payloadSHA256 is the hex SHA-256 SigV4 signs a body by.
func payloadSHA256(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// attemptAWSJSON sends one signed request and returns the body of a 200
// answer, else an *awsError or the transport error.
func attemptAWSJSON(ctx context.Context, hc aws.HTTPClient, signer *v4.Signer, creds aws.Credentials, region string, svc awsService, name, endpoint string, body []byte, payloadHash string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", name)
	if err := signer.SignHTTP(ctx, creds, req, payloadHash, svc.signingName, region, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("%s: sign: %w", name, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s: read the answer: %w", name, err)
	}
	if resp.StatusCode == http.StatusOK {
		return answer, nil
	}
	return nil, parseAWSError(name, resp, answer)
}

// parseAWSError reads an AWS JSON error answer as the SDK does: the type
// from X-Amzn-ErrorType, else the body's "__type" or "code", without a
// "namespace#" prefix or a ":" suffix; the body's "message" or "Message".
func parseAWSError(name string, resp *http.Response, answer []byte) *awsError {
	var v struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(answer, &v)
	typ := resp.Header.Get("X-Amzn-ErrorType")
	for _, c := range []string{v.Type, v.Code} {
		if typ == "" {
			typ = c
		}
	}
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	msg := v.Message
	if msg == "" {
		msg = v.MessageU
	}
	return &awsError{op: name, status: resp.StatusCode, typ: clip(typ, 128), message: clip(msg, 512),
		requestID: clip(resp.Header.Get("X-Amzn-RequestId"), 128)}
}

// clip bounds what an answer puts into an error (and so a log line).
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// retryableErr reports whether a failed attempt is worth the second one:
// an AWS error the SDK retries, or a transport error other than the
// context's end or an unknown host.
func retryableErr(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ae *awsError
	if errors.As(err, &ae) {
		return ae.retryable()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return false
	}
	var ue *url.Error
	return errors.As(err, &ue) // hc.Do's transport errors
}

// endpoint is the service's AWS_ENDPOINT_URL_* override (read through
// getenv), else its regional endpoint.
func (svc awsService) endpoint(region string, getenv func(string) string) (string, error) {
	if ep := getenv(svc.endpointEnv); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("%s must be an http(s) URL", svc.endpointEnv)
		}
		if u.Path == "" {
			u.Path = "/"
		}
		return u.String(), nil
	}
	if region == "" {
		return "", errors.New("no AWS region: set AWS_REGION")
	}
	for _, c := range region {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return "", errors.New("AWS_REGION is not a region name")
		}
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://" + svc.signingName + "." + region + "." + domain + "/", nil
}
