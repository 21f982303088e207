package store_test

import (
	"testing"
	"time"

	"github.com/serverless-signin/signin/pkg/store"
)

func TestSessionLive(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC()
	tests := []struct {
		name          string
		expires, idle time.Time
		want          bool
	}{
		{"before expiry, no idle timeout", now.Add(time.Second), time.Time{}, true},
		{"at expiry", now, time.Time{}, false},
		{"after expiry", now.Add(-time.Second), time.Time{}, false},
		{"before both", now.Add(time.Hour), now.Add(time.Millisecond), true},
		{"at idle expiry", now.Add(time.Hour), now, false},
		{"idle expired", now.Add(time.Hour), now.Add(-time.Millisecond), false},
		{"expired, idle later", now.Add(-time.Second), now.Add(time.Hour), false},
		{"no expiry at all", time.Time{}, time.Time{}, false},
	}
	for _, tt := range tests {
		s := store.Session{ExpiresAt: tt.expires, IdleExpiresAt: tt.idle}
		if got := s.Live(now); got != tt.want {
			t.Errorf("%s: Session{ExpiresAt: %v, IdleExpiresAt: %v}.Live(%v) = %v; want %v", tt.name, tt.expires, tt.idle, now, got, tt.want)
		}
	}
}
