package store_test

import (
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/store"
)

func TestMemory(t *testing.T) {
	testConformance(t, func(t *testing.T, now func() time.Time) store.Store {
		m := store.NewMemory()
		m.Now = now
		return m
	})
}
