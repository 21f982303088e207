//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The emulator is github.com/aws/aws-lambda-runtime-interface-emulator (a tool in go.mod). Run as
// `aws-lambda-rie [flags] /path/to/bootstrap`, it serves one function: it execs the bootstrap
// lazily on the first invoke (the INIT phase), hands it AWS_LAMBDA_RUNTIME_API, forwards its own
// environment to it, and serves one invocation at a time.
const (
	rieModule  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	invokePath = "/2015-03-31/functions/function/invocations"
)

// buildLambdas builds each function's bootstrap with the Makefile target SAM runs
// (build-<LogicalId>), for the host's architecture so it runs here, and the emulator at the
// version pinned in go.mod. It returns the emulator's path and the bootstraps by logical id.
func buildLambdas(tb testing.TB) (rie string, bootstraps map[string]string) {
	tb.Helper()
	dir := tb.TempDir()
	bootstraps = map[string]string{}
	for _, fn := range emulatedFunctions {
		bootstraps[fn.logicalID] = buildBootstrap(tb, dir, fn.logicalID)
	}
	return buildRIE(tb, dir), bootstraps
}

// buildBootstrap runs `make build-<logicalID>` for the host's architecture into
// dir/<logicalID>/bootstrap and returns that path. makefiles, when given, are read after the
// repository's Makefile (e.g. one that declares another target with its lambda_target recipe).
func buildBootstrap(tb testing.TB, dir, logicalID string, makefiles ...string) string {
	tb.Helper()
	root := repoRoot(tb)
	artifacts := filepath.Join(dir, logicalID)
	args := []string{"-s", "-C", root}
	if len(makefiles) > 0 {
		args = append(args, "-f", filepath.Join(root, "Makefile"))
		for _, m := range makefiles {
			args = append(args, "-f", m)
		}
	}
	runCommand(tb, root, "make", append(args, "build-"+logicalID, "ARTIFACTS_DIR="+artifacts, "GOARCH="+runtime.GOARCH)...)
	return filepath.Join(artifacts, "bootstrap")
}

// buildRIE builds the emulator at the version pinned in go.mod into dir.
func buildRIE(tb testing.TB, dir string) string {
	tb.Helper()
	rie := filepath.Join(dir, "aws-lambda-rie")
	runCommand(tb, repoRoot(tb), "go", "build", "-o", rie, rieModule)
	return rie
}

// runCommand runs a command in dir and fails the test with its output if it fails.
func runCommand(tb testing.TB, dir, name string, args ...string) {
	tb.Helper()
	cmd := exec.CommandContext(tb.Context(), name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// loadEvent reads a sample event from events/.
func loadEvent(tb testing.TB, name string) events.APIGatewayV2HTTPRequest {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(tb), "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(data, &ev); err != nil {
		tb.Fatalf("decode events/%s: %v", name, err)
	}
	return ev
}

// withQuery returns ev with another query string, in both forms API Gateway sends (repeated
// parameters joined with commas in queryStringParameters).
func withQuery(ev events.APIGatewayV2HTTPRequest, raw string) events.APIGatewayV2HTTPRequest {
	ev.RawQueryString, ev.QueryStringParameters = raw, nil
	if values, err := url.ParseQuery(raw); err == nil && len(values) > 0 {
		ev.QueryStringParameters = map[string]string{}
		for k, vs := range values {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	return ev
}

// withCookies returns ev carrying exactly these cookies (name → value), as payload 2.0 does.
func withCookies(ev events.APIGatewayV2HTTPRequest, jar map[string]string) events.APIGatewayV2HTTPRequest {
	ev.Cookies = nil
	for _, name := range slices.Sorted(maps.Keys(jar)) {
		ev.Cookies = append(ev.Cookies, name+"="+jar[name])
	}
	return ev
}

// withHeader returns ev with one header replaced (the sample's header map is left alone).
func withHeader(ev events.APIGatewayV2HTTPRequest, name, value string) events.APIGatewayV2HTTPRequest {
	ev.Headers = maps.Clone(ev.Headers)
	ev.Headers[name] = value
	return ev
}

// syncBuffer collects a process's output; exec's copying goroutines write while tests read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// emulator is one aws-lambda-rie process serving one bootstrap.
type emulator struct {
	name string
	addr string // host:port of the invoke endpoint
	cmd  *exec.Cmd
	out  *syncBuffer // the emulator's and the function's stdout and stderr
	done chan struct{}
	stop func()
}

// startEmulator starts the emulator for bootstrap with exactly env (the emulator forwards its
// environment to the function) on free loopback ports, and waits until it accepts invokes. The
// process group is killed when the test ends, or earlier by e.stop.
func startEmulator(tb testing.TB, name, rie, bootstrap string, env map[string]string) *emulator {
	tb.Helper()
	var lastErr error
	// A free port may be taken between our probe and the emulator's bind: try again.
	for range 3 {
		e, err := tryStartEmulator(tb, name, rie, bootstrap, env)
		if err == nil {
			return e
		}
		lastErr = err
	}
	tb.Fatalf("start %s under the emulator: %v", name, lastErr)
	return nil
}

func tryStartEmulator(tb testing.TB, name, rie, bootstrap string, env map[string]string) (*emulator, error) {
	runtimeAPI, err := freeAddr()
	if err != nil {
		return nil, err
	}
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie,
		"--runtime-api-address", runtimeAPI,
		"--runtime-interface-emulator-address", invokeAddr,
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap) // the task root, like /var/task
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	e := &emulator{name: name, addr: invokeAddr, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = e.out, e.out
	// Its own process group: the emulator's child, the bootstrap, dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", rie, err)
	}
	go func() {
		cmd.Wait()
		close(e.done)
	}()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-e.done:
			case <-time.After(10 * time.Second):
				tb.Logf("%s: emulator did not exit after SIGKILL", name)
			}
		})
	}
	tb.Cleanup(e.stop)

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-e.done:
			return nil, fmt.Errorf("emulator exited before serving (%v); output:\n%s", cmd.ProcessState, e.out)
		default:
		}
		if c, err := net.DialTimeout("tcp", invokeAddr, 100*time.Millisecond); err == nil {
			c.Close()
			// Both ports are bound at start; if another process took the runtime API's port
			// since freeAddr probed it, the emulator serves on without it and the bootstrap
			// fails its first request for an event: start again on other ports.
			r, err := net.DialTimeout("tcp", runtimeAPI, 100*time.Millisecond)
			if err != nil {
				e.stop()
				return nil, fmt.Errorf("runtime API %s not listening: %v", runtimeAPI, err)
			}
			r.Close()
			return e, nil
		}
		if time.Now().After(deadline) {
			e.stop()
			return nil, fmt.Errorf("emulator not listening on %s after 30s; output:\n%s", invokeAddr, e.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// invoke sends ev as the function's event, with requestID as the invocation id, and decodes the
// function's answer. A function error (the emulator answers 200 with an errorType body) or an
// answer that is not a payload-2.0 response fails the test.
func (e *emulator) invoke(tb testing.TB, requestID string, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	out, took, err := e.tryInvoke(ctx, requestID, ev)
	if err != nil {
		tb.Fatal(err)
	}
	return out, took
}

// tryInvoke is invoke for callers that may not stop the test, such as goroutines.
func (e *emulator) tryInvoke(ctx context.Context, requestID string, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, time.Duration, error) {
	var out events.APIGatewayV2HTTPResponse
	took, err := e.invokeJSON(ctx, requestID, ev, &out)
	if err != nil {
		return out, took, fmt.Errorf("%w (want a payload-2.0 response)", err)
	}
	return out, took, nil
}

// invokeAuthorizer sends an authorizer event (the SessionAuthorizer's) and decodes its simple
// response. A function error (what the gateway answers with a 5xx) fails the test.
func (e *emulator) invokeAuthorizer(tb testing.TB, requestID string, ev events.APIGatewayV2CustomAuthorizerV2Request) events.APIGatewayV2CustomAuthorizerSimpleResponse {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute)
	defer cancel()
	var out events.APIGatewayV2CustomAuthorizerSimpleResponse
	if _, err := e.invokeJSON(ctx, requestID, ev, &out); err != nil {
		tb.Fatalf("%v (want an authorizer's simple response)", err)
	}
	return out
}

// invokeJSON sends event to the function with requestID as the invocation id and decodes its
// answer into out, refusing unknown fields. A function error (the emulator answers 200 with an
// errorType body) is an error.
func (e *emulator) invokeJSON(ctx context.Context, requestID string, event, out any) (time.Duration, error) {
	body, err := json.Marshal(event)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+invokePath, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Amzn-RequestId", requestID)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("invoke %s: %v; output:\n%s", e.name, err, e.out)
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("invoke %s: read answer: %v", e.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return took, fmt.Errorf("invoke %s: emulator answered HTTP %d %s; output:\n%s", e.name, resp.StatusCode, buf.Bytes(), e.out)
	}
	var probe struct {
		ErrorType    *string `json:"errorType"`
		ErrorMessage string  `json:"errorMessage"`
	}
	if json.Unmarshal(buf.Bytes(), &probe) == nil && probe.ErrorType != nil {
		return took, fmt.Errorf("invoke %s: function error %s: %s; output:\n%s", e.name, *probe.ErrorType, probe.ErrorMessage, e.out)
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return took, fmt.Errorf("invoke %s: unexpected answer: %v", e.name, err)
	}
	return took, nil
}

// initReportRE matches the emulator's INIT REPORT line: from exec'ing the bootstrap to the
// runtime's first request for an event, i.e. the function's whole cold-start initialisation. (The
// "Init Duration" of its REPORT line only times handing Init to a goroutine.)
var initReportRE = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration is the INIT phase's duration as the emulator reports it.
func (e *emulator) initDuration() (time.Duration, bool) {
	m := initReportRE.FindStringSubmatch(e.out.String())
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(ms * float64(time.Millisecond)), true
}

// requestLogs returns the function's "request" log lines (pkg/auth's one JSON line per request).
func (e *emulator) requestLogs() []map[string]any {
	var lines []map[string]any
	for line := range strings.Lines(e.out.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	return lines
}

// lambdaEnv is a function's environment as template.yaml sets it, with local stand-ins: the
// client secret in plain text instead of OAUTH_CLIENT_SECRET_ARN, dummy AWS credentials, no
// shared AWS config files (so a developer's ~/.aws plays no part) unless extra sets them.
func lambdaEnv(fn samFunction, table, issuer, clientID, clientSecret string, extra map[string]string) map[string]string {
	env := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"TABLE_NAME":                      table,
		"SESSION_LIFETIME":                "168h",
		"SESSION_IDLE_TIMEOUT":            "0",
		"AWS_REGION":                      "us-east-1",
		"AWS_ACCESS_KEY_ID":               "local",
		"AWS_SECRET_ACCESS_KEY":           "local",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_CONFIG_FILE":                 os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":     os.DevNull,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.logicalID,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "10", // Globals.Function.Timeout
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.memoryMB),
	}
	oauthEnv := map[string]string{
		"OAUTH_ISSUER":    issuer,
		"OAUTH_CLIENT_ID": clientID,
		"OAUTH_SCOPES":    "openid profile email",
		"OAUTH_PROMPT":    "",
	}
	switch fn.logicalID {
	case "LoginFunction":
		maps.Copy(env, oauthEnv)
		// Configured, so the login binary never needs the discovery document (docs/contract.md §7).
		env["OAUTH_AUTHORIZE_URL"] = strings.TrimSuffix(issuer, "/") + "/authorize"
	case "CallbackFunction":
		maps.Copy(env, oauthEnv)
		env["OAUTH_CLIENT_SECRET"] = clientSecret
	case "LogoutFunction":
		maps.Copy(env, oauthEnv)
		env["OAUTH_CLIENT_SECRET"] = clientSecret
		env["OAUTH_POST_LOGOUT_REDIRECT_URI"] = ""
	case "AuthorizerFunction":
		env["APP_ORIGIN"] = "" // the template's default: the request's own https://{domainName}
	}
	maps.Copy(env, extra)
	return env
}

// fileSize is a file's size in bytes (0 when unreadable).
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
