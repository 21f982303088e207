package e2e

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/devprovider"
)

// devBinary builds cmd/dev (what make dev runs) into a temporary directory.
func devBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "dev")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/dev")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/dev: %v\n%s", err, out)
	}
	return bin
}

// devEnv is the test's environment without the variables that switch the
// dev server to another provider or store, plus extra.
func devEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OAUTH_") || name == "TABLE_NAME" || name == "AWS_ENDPOINT_URL_DYNAMODB" || name == "PORT" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

var devStartLine = regexp.MustCompile(`^dev: open (http://localhost:\d+)/ and sign in as demo / demo \(built-in provider http://localhost:\d+/oidc, memory store; Ctrl-C stops\)$`)

// The command a newcomer runs: it needs nothing but the repository, prints
// where to go and with which credentials, serves a whole sign-in and stops
// cleanly on SIGINT.
func TestDevCommand(t *testing.T) {
	bin := devBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = devEnv("PORT=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var line string
	select {
	case line = <-lines:
	case err := <-exited:
		t.Fatalf("dev exited before it printed its URL: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("dev printed nothing within 30s\n%s", stderr.String())
	}
	m := devStartLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("dev start line = %q; want %s", line, devStartLine)
	}
	base := m[1]

	hc := browserlessClient(t)
	if resp, body := fetch(t, hc, "GET", base+"/", nil); resp.StatusCode != 200 || !strings.Contains(body, `id="sign-in"`) {
		t.Fatalf("GET %s/ = %d; want 200 with the status page", base, resp.StatusCode)
	}
	resp, body := fetch(t, hc, "GET", base+"/auth/login?return_to=/", nil)
	if resp.StatusCode != 302 {
		t.Fatalf("GET /auth/login = %d %s; want 302", resp.StatusCode, body)
	}
	callback, err := devprovider.Authorize(t.Context(), hc, resp.Header.Get("Location"), "demo", "demo")
	if err != nil {
		t.Fatalf("devprovider.Authorize: %v", err)
	}
	if resp, body := fetch(t, hc, "GET", callback.String(), nil); resp.StatusCode != 302 {
		t.Fatalf("GET /auth/callback = %d %s; want 302", resp.StatusCode, body)
	}
	if _, body := fetch(t, hc, "GET", base+"/auth/me", nil); !strings.Contains(body, `"name":"Demo User"`) {
		t.Errorf("/auth/me after sign-in = %s; want the demo user", body)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("dev after SIGINT: %v; want exit status 0\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("dev still running 10s after SIGINT")
	}
}

func TestDevCommandBadConfig(t *testing.T) {
	bin := devBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = devEnv("PORT=0", "OAUTH_ISSUER=https://id.example.test")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "OAUTH_CLIENT_ID") {
		t.Errorf("dev with OAUTH_ISSUER but no client = %v, %q; want exit status 1 naming OAUTH_CLIENT_ID", err, out)
	}
}
