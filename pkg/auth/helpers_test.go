package auth_test

import (
	"io"
	"time"

	"github.com/serverless-signin/signin/internal/routes"
	"github.com/serverless-signin/signin/internal/sessiontest"
	"github.com/serverless-signin/signin/pkg/oauth"
	"github.com/serverless-signin/signin/pkg/session"
	"github.com/serverless-signin/signin/pkg/store"
)

// The shared test helpers, under the names these tests use.
type (
	storeKind     = sessiontest.StoreKind
	clock         = sessiontest.Clock
	logBuffer     = sessiontest.LogBuffer
	countingStore = sessiontest.CountingStore
	countingDB    = sessiontest.CountingDB
)

var (
	storeKinds   = sessiontest.StoreKinds
	newClock     = sessiontest.NewClock
	forEachStore = sessiontest.ForEachStore
)

// newHandler builds the route handlers over client (nil: none) and st, on
// the clock now, as the wiring does.
func newHandler(client *oauth.Client, st store.Store, now func() time.Time) *routes.Handler {
	cfg := routes.Config{Session: session.Config{Store: st, Logger: session.NewLogger(io.Discard), Now: now}}
	if client != nil {
		cfg.Provider = client
		cfg.Session.Revoker, cfg.Session.Refresher = client, client
	}
	return routes.New(cfg)
}
