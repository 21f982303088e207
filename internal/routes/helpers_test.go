package routes_test

import "github.com/serverless-signin/signin/internal/sessiontest"

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
