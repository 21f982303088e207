package auth_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/dynamotest"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/store"
)

// The helper process: the test binary re-executed as another "container"
// that shares the DynamoDB table and the provider with the test.
const (
	helperModeEnv     = "AUTH_SESSIONS_HELPER" // "access-token"
	helperTableEnv    = "AUTH_SESSIONS_HELPER_TABLE"
	helperProviderEnv = "AUTH_SESSIONS_HELPER_PROVIDER"
	helperKeyEnv      = "AUTH_SESSIONS_HELPER_KEY"
	helperPrefix      = "sessions-helper: "
)

// TestSessionsHelperProcess is not a test: started by startHelper with
// AUTH_SESSIONS_HELPER=access-token, it builds its own Sessions over the
// shared table, says "ready", waits for a line on stdin and asks for the
// session's access token, printing the result. Run normally it does nothing.
func TestSessionsHelperProcess(t *testing.T) {
	if os.Getenv(helperModeEnv) != "access-token" {
		return
	}
	client, err := oauth.NewClient(tokenProviderConfig(os.Getenv(helperProviderEnv)))
	if err != nil {
		fmt.Printf("%serror %v\n", helperPrefix, err)
		return
	}
	s := &auth.Sessions{
		Store:  store.NewDynamoDB(dynamotest.Client(t), os.Getenv(helperTableEnv)),
		OAuth:  client,
		Logger: auth.NewLogger(os.Stderr),
	}
	fmt.Printf("%sready\n", helperPrefix)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Printf("%serror stdin: %v\n", helperPrefix, err)
		return
	}
	tok, err := s.AccessToken(context.Background(), &auth.Session{Key: os.Getenv(helperKeyEnv)})
	if err != nil {
		fmt.Printf("%serror %v\n", helperPrefix, err)
		return
	}
	fmt.Printf("%stoken %s\n", helperPrefix, tok)
}

// helperProcess is one running helper.
type helperProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // the helper's own lines, prefix removed
	stderr *logBuffer
}

// startHelper runs the test binary as a helper asking for the access token
// of the session key, over table and the provider at providerURL.
func startHelper(t *testing.T, table, providerURL, key string) *helperProcess {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("os.Executable: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a stuck helper must not hang the run
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestSessionsHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		helperModeEnv+"=access-token",
		helperTableEnv+"="+table,
		helperProviderEnv+"="+providerURL,
		helperKeyEnv+"="+key,
	)
	h := &helperProcess{cmd: cmd, lines: make(chan string, 8), stderr: &logBuffer{}}
	cmd.Stderr = h.stderr
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), helperPrefix); ok {
				h.lines <- line
			}
		}
		close(h.lines)
	}()
	t.Cleanup(func() {
		h.stdin.Close()
		for range h.lines { // read to EOF before Wait closes the pipe
		}
		cmd.Wait()
		cancel()
	})
	return h
}

// next returns the helper's next line; it fails the test when the helper
// ends without one.
func (h *helperProcess) next(t *testing.T) string {
	t.Helper()
	line, ok := <-h.lines
	if !ok {
		t.Fatalf("helper ended without answering; stderr:\n%s", h.stderr)
	}
	return line
}

// release lets the helper ask for its token.
func (h *helperProcess) release(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(h.stdin, "go\n"); err != nil {
		t.Fatalf("release helper: %v", err)
	}
}
