package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/emf"
	"github.com/serverless-signin/signin/pkg/auth"
	"github.com/serverless-signin/signin/pkg/store"
)

// A refresh finishes inside its lease (docs/contract.md §5.4). The provider
// is slow (it answers after 70% of a 2 s lease, by the clock the lease is
// measured with) and so is the save (it lands 40% of the lease later, past
// the lease's original end). A second caller polls the record meanwhile: it
// must see a live lease until the result is saved, never take over and
// redeem the same, by then rotated, refresh token. Exactly one redemption
// reaches the provider and both callers get the saved token.
func TestRefreshFitsInLease(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		const lease = 2 * time.Second
		w.sessions.LeaseTimeout = lease
		w.provider.delay = 100 * time.Millisecond // real time: the callers overlap
		w.provider.onRefresh = func() { w.clock.Advance(lease * 7 / 10) }
		slow := &slowSave{Store: w.store, save: func() {
			w.clock.Advance(lease * 4 / 10)
			// The write is on its way: give the other caller time to poll
			// (it polls at least every 250 ms) and, if the lease looks
			// over, to redeem. Real time, well inside the save's own
			// timeout (half the lease).
			deadline := time.Now().Add(600 * time.Millisecond)
			for w.provider.refreshes.Load() < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}}
		w.sessions.Store = slow
		old := w.expiredTokens()
		id := w.signIn("alice", old)
		sess := &auth.Session{Key: store.Hash(id)}

		type result struct {
			tok string
			err error
		}
		first, second := make(chan result, 1), make(chan result, 1)
		go func() {
			tok, err := w.sessions.AccessToken(context.Background(), sess)
			first <- result{tok, err}
		}()
		for w.provider.refreshes.Load() == 0 { // the first caller holds the lease and is at the provider
			time.Sleep(5 * time.Millisecond)
		}
		go func() {
			tok, err := w.sessions.AccessToken(context.Background(), sess)
			second <- result{tok, err}
		}()
		a, b := <-first, <-second

		if n := w.provider.refreshes.Load(); n != 1 {
			t.Errorf("provider refreshes = %d; want exactly 1", n)
		}
		if a.err != nil || b.err != nil {
			t.Fatalf("AccessToken() errors = %v, %v; want nil, nil\nlogs:\n%s", a.err, b.err, w.logs)
		}
		stored := w.tokens(id)
		if a.tok != stored.AccessToken || b.tok != stored.AccessToken || stored.Version != 2 || !w.provider.works(stored.RefreshToken) {
			t.Errorf("callers got %v, %v the stored token, record version %d, its refresh token works %v; want true, true, 2, true",
				a.tok == stored.AccessToken, b.tok == stored.AccessToken, stored.Version, w.provider.works(stored.RefreshToken))
		}
		line := logLine(t, w.logs, "session: refreshed")
		if line["lease_extended"] != true {
			t.Errorf("refresh log line %v; want lease_extended true", line)
		}
	})
}

// A refresh whose provider answers quickly saves inside its lease as it is:
// no extension, no extra write.
func TestRefreshLeaseNotExtended(t *testing.T) {
	forEachStore(t, func(t *testing.T, k storeKind) {
		w := newWorld(t, k, true, false)
		w.sessions.LeaseTimeout = 2 * time.Second
		counter := &countingStore{Store: w.store}
		w.sessions.Store = counter
		id := w.signIn("alice", w.expiredTokens())
		if _, err := w.sessions.AccessToken(context.Background(), &auth.Session{Key: store.Hash(id)}); err != nil {
			t.Fatal(err)
		}
		if got := counter.Take(); got["AcquireRefreshLease"] != 1 || got["SaveRefreshed"] != 1 {
			t.Errorf("store calls = %v; want one AcquireRefreshLease and one SaveRefreshed", got)
		}
		if line := logLine(t, w.logs, "session: refreshed"); line["lease_extended"] != false {
			t.Errorf("refresh log line %v; want lease_extended false", line)
		}
	})
}

// slowSave is a store whose first SaveRefreshed runs save first: a slow
// write.
type slowSave struct {
	store.Store
	save func()
	once sync.Once
}

func (s *slowSave) SaveRefreshed(ctx context.Context, t store.Tokens, owner string) error {
	s.once.Do(s.save)
	return s.Store.SaveRefreshed(ctx, t, owner)
}

// The refresh log lines are CloudWatch EMF documents: a refresh counts
// Refreshes, a failed one RefreshFailures by reason (grant_ended, provider,
// storage), under the route dimension "refresh".
func TestRefreshMetrics(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(w *world, old store.Tokens) // breaks something before the refresh
		msg    string
		metric emf.Metric
		reason string
	}{
		{"refreshed", nil, "session: refreshed", emf.Refreshes, ""},
		{"grant ended", func(w *world, old store.Tokens) { w.provider.kill(old.RefreshToken) },
			"session: session ended", emf.RefreshFailures, emf.ReasonGrantEnded},
		{"provider down", func(w *world, _ store.Tokens) { w.provider.failWith(503) },
			"session: refresh failed", emf.RefreshFailures, emf.ReasonProvider},
		{"store down", func(w *world, _ store.Tokens) { w.sessions.Store = leaseDown{w.store} },
			"session: refresh failed", emf.RefreshFailures, emf.ReasonStorage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, storeKinds[0], true, false)
			old := w.expiredTokens()
			id := w.signIn("alice", old)
			if tt.setup != nil {
				tt.setup(w, old)
			}
			_, err := w.sessions.AccessToken(context.Background(), &auth.Session{Key: store.Hash(id)})
			if (err == nil) != (tt.metric == emf.Refreshes) {
				t.Fatalf("AccessToken() error = %v", err)
			}

			line := logLine(t, w.logs, tt.msg)
			var doc struct {
				AWS struct {
					Timestamp         int64
					CloudWatchMetrics []struct {
						Namespace  string
						Dimensions [][]string
						Metrics    []struct{ Name, Unit string }
					}
				} `json:"_aws"`
			}
			raw, _ := json.Marshal(line)
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			wantDims := [][]string{{"route"}}
			if tt.reason != "" {
				wantDims = append(wantDims, []string{"route", "reason"})
			}
			switch d := doc.AWS.CloudWatchMetrics; {
			case doc.AWS.Timestamp == 0 || len(d) != 1:
				t.Fatalf("log line %v: _aws = %+v; want one metric directive with a timestamp", line, doc.AWS)
			case d[0].Namespace != emf.Namespace || len(d[0].Metrics) != 1 || d[0].Metrics[0].Name != string(tt.metric) || d[0].Metrics[0].Unit != "Count":
				t.Errorf("directive = %+v; want %s, metric %s (Count)", d[0], emf.Namespace, tt.metric)
			case !slices.EqualFunc(d[0].Dimensions, wantDims, slices.Equal):
				t.Errorf("dimensions = %v; want %v", d[0].Dimensions, wantDims)
			}
			if line["route"] != "refresh" {
				t.Errorf("route = %v; want refresh", line["route"])
			}
			if v, ok := line[string(tt.metric)].(float64); !ok || v != 1 {
				t.Errorf("%s = %v; want 1", tt.metric, line[string(tt.metric)])
			}
			if tt.reason != "" && line["reason"] != tt.reason {
				t.Errorf("reason = %v; want %q", line["reason"], tt.reason)
			}
			// One event, one count: no other line counts a refresh.
			n := 0
			for _, l := range w.logs.Lines(t) {
				if _, ok := l["_aws"]; ok {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d log lines carry a metric; want 1:\n%s", n, w.logs)
			}
		})
	}
}

// leaseDown is a store whose refresh lease cannot be taken (DynamoDB down).
type leaseDown struct{ store.Store }

func (leaseDown) AcquireRefreshLease(context.Context, string, int64, string, time.Time) (store.Tokens, error) {
	return store.Tokens{}, fmt.Errorf("store: acquire refresh lease: %w", store.ErrUnavailable)
}

// logLine returns the one log line with msg.
func logLine(t *testing.T, logs *logBuffer, msg string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, l := range logs.Lines(t) {
		if l["msg"] == msg {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d log lines %q; want 1:\n%s", len(found), msg, logs)
	}
	return found[0]
}
