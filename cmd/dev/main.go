// Command dev runs the sign-in routes locally (make dev): the Lambda
// handlers behind an API Gateway emulation, an embedded store and, unless
// OAUTH_ISSUER is set, a built-in OpenID provider with a demo user.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/serverless-signin/signin/internal/devprovider"
	"github.com/serverless-signin/signin/internal/devserver"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	addr := flag.String("addr", "localhost:"+port, "listen address (default from PORT, 8080)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	url := browserURL(ln.Addr().(*net.TCPAddr))
	initCtx, cancel := context.WithTimeout(ctx, time.Minute)
	srv, err := devserver.New(initCtx, devserver.Config{URL: url})
	cancel()
	if err != nil {
		ln.Close()
		return err
	}

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	store := "memory store"
	if srv.Table() != "" {
		store = "DynamoDB table " + srv.Table()
	}
	if srv.Provider() != nil {
		fmt.Printf("dev: open %s/ and sign in as %s / %s (built-in provider %s, %s; Ctrl-C stops)\n",
			url, devprovider.DemoUser.Username, devprovider.DemoUser.Password, srv.Issuer(), store)
	} else {
		fmt.Printf("dev: open %s/ and sign in with %s (%s; Ctrl-C stops)\n", url, srv.Issuer(), store)
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C kills at once
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// browserURL is the origin to open: localhost for a loopback or wildcard
// listener (cookies then behave as they will for real users), the address
// itself otherwise.
func browserURL(a *net.TCPAddr) string {
	host := "localhost"
	if !a.IP.IsLoopback() && !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port))
}
