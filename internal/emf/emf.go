// Package emf turns a JSON log line into a CloudWatch embedded metric format
// (EMF) document, so counting sign-ins costs no API call: CloudWatch Logs
// extracts the metrics from the line each function writes anyway.
package emf

import (
	"log/slog"
	"time"
)

// Namespace is the CloudWatch namespace of every metric; template.yaml's
// alarm names it too.
const Namespace = "ServerlessSignin"

// Dimension keys: the log line's own "route" attribute, and "reason" for
// failures. A metric is published per route and per route and reason.
const (
	RouteKey  = "route"
	ReasonKey = "reason"
)

// Metric names one counter.
type Metric string

// The counters. Each is 1 on the line of the event it counts.
const (
	SignIns            Metric = "SignIns"            // a callback that created a session
	SignInFailures     Metric = "SignInFailures"     // a login or callback that did not (reason: Reason*)
	SignOuts           Metric = "SignOuts"           // a logout answered with its success redirect
	Refreshes          Metric = "Refreshes"          // an access token refreshed at the provider
	RefreshFailures    Metric = "RefreshFailures"    // a refresh that failed (reason: Reason*)
	AuthorizerRefusals Metric = "AuthorizerRefusals" // the authorizer said no (reason: Reason*)
)

// Reasons: a fixed list, so a dimension never carries request data and the
// number of metrics stays bounded.
const (
	ReasonInvalidCallback = "invalid_callback" // bad query, unknown/used/foreign state (400)
	ReasonProviderDenied  = "provider_denied"  // the provider answered error=... (400)
	ReasonIssuerMismatch  = "issuer_mismatch"  // RFC 9207 iss wrong or missing
	ReasonProvider        = "provider"         // exchange, ID token, userinfo or refresh failed
	ReasonStorage         = "storage"          // DynamoDB failed
	ReasonInternal        = "internal"         // anything else (a panic, a configuration gap)
	ReasonGrantEnded      = "grant_ended"      // refresh refused: the user must sign in again
	ReasonNoSession       = "no_session"       // authorizer: no live session
	ReasonCrossSite       = "cross_site"       // authorizer: a cross-site unsafe request
)

// Attrs returns the attributes that make a JSON log line carrying a "route"
// attribute an EMF document counting metric once. With a reason, the line
// gets a "reason" attribute and the metric is also published per reason.
func Attrs(now time.Time, metric Metric, reason string) []slog.Attr {
	dims := [][]string{{RouteKey}}
	attrs := make([]slog.Attr, 0, 3)
	if reason != "" {
		dims = append(dims, []string{RouteKey, ReasonKey})
		attrs = append(attrs, slog.String(ReasonKey, reason))
	}
	attrs = append(attrs,
		slog.Any("_aws", metadata{
			Timestamp: now.UnixMilli(),
			CloudWatchMetrics: []directive{{
				Namespace:  Namespace,
				Dimensions: dims,
				Metrics:    []definition{{Name: string(metric), Unit: "Count"}},
			}},
		}),
		slog.Int(string(metric), 1),
	)
	return attrs
}

// metadata is the "_aws" member of an EMF document.
type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}
