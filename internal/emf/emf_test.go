package emf_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/serverless-signin/signin/internal/emf"
)

// TestAttrs writes lines as the functions do (slog's JSON handler) and checks
// each is a valid EMF document: the metadata names the namespace, the metric
// with a unit, dimension sets whose keys are all on the line, and the metric's
// value is on the line.
func TestAttrs(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	tests := []struct {
		name     string
		metric   emf.Metric
		reason   string
		wantDims [][]string
	}{
		{"no reason", emf.SignIns, "", [][]string{{"route"}}},
		{"with reason", emf.SignInFailures, emf.ReasonProvider, [][]string{{"route"}, {"route", "reason"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			log.LogAttrs(t.Context(), slog.LevelInfo, "request", append([]slog.Attr{slog.String("route", "callback")}, emf.Attrs(now, tt.metric, tt.reason)...)...)

			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatalf("line %q: %v", buf.String(), err)
			}
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
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.AWS.Timestamp != now.UnixMilli() {
				t.Errorf("Timestamp = %d; want %d", doc.AWS.Timestamp, now.UnixMilli())
			}
			if len(doc.AWS.CloudWatchMetrics) != 1 {
				t.Fatalf("CloudWatchMetrics = %+v; want one directive", doc.AWS.CloudWatchMetrics)
			}
			d := doc.AWS.CloudWatchMetrics[0]
			if d.Namespace != emf.Namespace {
				t.Errorf("Namespace = %q; want %q", d.Namespace, emf.Namespace)
			}
			if len(d.Metrics) != 1 || d.Metrics[0].Name != string(tt.metric) || d.Metrics[0].Unit != "Count" {
				t.Errorf("Metrics = %+v; want [{%s Count}]", d.Metrics, tt.metric)
			}
			if !slices.EqualFunc(d.Dimensions, tt.wantDims, slices.Equal) {
				t.Errorf("Dimensions = %v; want %v", d.Dimensions, tt.wantDims)
			}
			for _, set := range d.Dimensions {
				for _, k := range set {
					if _, ok := line[k].(string); !ok {
						t.Errorf("dimension %q is not a string member of the line %s", k, buf.String())
					}
				}
			}
			if v, ok := line[string(tt.metric)].(float64); !ok || v != 1 {
				t.Errorf("%s = %v; want 1", tt.metric, line[string(tt.metric)])
			}
			if tt.reason != "" && line["reason"] != tt.reason {
				t.Errorf("reason = %v; want %q", line["reason"], tt.reason)
			}
		})
	}
}
