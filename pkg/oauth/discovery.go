package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// discoveryRetry is how long a failed discovery is remembered before the
// next call tries again: long enough that an outage does not add a doomed
// round trip to every request, short enough to recover quickly.
const discoveryRetry = 10 * time.Second

// metadata is the part of the OpenID Provider Metadata we use.
//
// Written by hand rather than with oidc.NewProvider: that fetches eagerly
// (a failure fails the construction), does not expose the revocation
// endpoint or auth methods as fields, and builds a key set that refetches on
// every unknown kid.
type metadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	UserinfoEndpoint              string   `json:"userinfo_endpoint"`
	RevocationEndpoint            string   `json:"revocation_endpoint"`
	EndSessionEndpoint            string   `json:"end_session_endpoint"`
	JWKSURI                       string   `json:"jwks_uri"`
	TokenEndpointAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods []string `json:"revocation_endpoint_auth_methods_supported"`
	IDTokenSigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	// RFC 9207 §3: the provider sends iss on every authorization response.
	IssParameterSupported jsonTrue `json:"authorization_response_iss_parameter_supported"`
}

// jsonTrue is true only for the JSON literal true. Any other value reads as
// false rather than failing the whole document: a provider's odd "true"
// must not cost the client its endpoints.
type jsonTrue bool

func (t *jsonTrue) UnmarshalJSON(b []byte) error {
	*t = string(b) == "true"
	return nil
}

// discovery fetches the provider metadata at most once per Client (once per
// container: docs/contract.md §4) and keeps it, with the endpoints built from
// it, for the Client's life. One fetch runs at a time; callers that arrive
// meanwhile wait for it (or for their context). A failure is remembered for
// discoveryRetry, so an outage costs one round trip, not one per request;
// after that a call tries again, until one fetch succeeds.
type discovery struct {
	c *Client

	mu       sync.Mutex
	eps      *endpoints // built from the document; nil until the first success
	err      error      // last failure, returned until retryAt
	retryAt  time.Time
	inflight *flight
}

// flight is one fetch shared by every caller that arrives while it runs.
type flight struct {
	done chan struct{}
	err  error // written before done is closed
}

func (f *flight) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-f.done:
		return f.err
	}
}

// get returns the endpoints from the discovery document, fetching it if no
// fetch has succeeded yet and no failure is within its backoff.
func (d *discovery) get(ctx context.Context) (*endpoints, error) {
	d.mu.Lock()
	if d.eps != nil {
		eps := d.eps
		d.mu.Unlock()
		return eps, nil
	}
	if d.err != nil && d.c.now().Before(d.retryAt) {
		err := d.err
		d.mu.Unlock()
		return nil, err
	}
	f := d.inflight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		d.inflight = f
		// The fetch outlives an impatient caller so that its result still
		// serves the others; it is bounded by the client's timeout.
		go d.fetch(context.WithoutCancel(ctx), f)
	}
	d.mu.Unlock()

	if err := f.wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eps, nil
}

func (d *discovery) fetch(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, d.c.cfg.Timeout)
	meta, err := d.c.fetchMetadata(ctx)
	cancel()
	now := d.c.now()

	if err != nil {
		d.c.log.WarnContext(ctx, "oauth: discovery failed; using the configured and issuer-derived endpoints until a retry succeeds",
			"issuer", d.c.cfg.Issuer, "retry_in", discoveryRetry.String(), "error", err.Error())
	}
	d.mu.Lock()
	if err != nil {
		d.err, d.retryAt = err, now.Add(discoveryRetry)
	} else {
		// The oauth2.Config and verifier are built once, not per request.
		d.err, d.eps = nil, d.c.endpointsFrom(meta)
	}
	d.inflight = nil
	d.mu.Unlock()

	f.err = err
	close(f.done)
}

func (c *Client) fetchMetadata(ctx context.Context) (*metadata, error) {
	u := issuerURL(c.cfg.Issuer, "/.well-known/openid-configuration")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.send(req, "discovery")
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, &HTTPError{Endpoint: "discovery", StatusCode: res.status, Reason: "unexpected status"}
	}
	var m metadata
	if err := json.Unmarshal(res.body, &m); err != nil {
		return nil, &HTTPError{Endpoint: "discovery", StatusCode: res.status, Reason: "malformed JSON"}
	}
	// OpenID Discovery §4.3: the document must name the issuer it was
	// fetched for, else a provider could speak for another. Only a trailing
	// slash may differ, since §4.1 strips it to build the URL.
	if strings.TrimSuffix(m.Issuer, "/") != strings.TrimSuffix(c.cfg.Issuer, "/") {
		return nil, fmt.Errorf("%w: the discovery document names %q, configured %q", ErrIssuerMismatch, clip(m.Issuer, 200), c.cfg.Issuer)
	}
	for _, e := range []struct{ name, value string }{
		{"authorization_endpoint", m.AuthorizationEndpoint}, {"token_endpoint", m.TokenEndpoint},
		{"userinfo_endpoint", m.UserinfoEndpoint}, {"revocation_endpoint", m.RevocationEndpoint},
		{"end_session_endpoint", m.EndSessionEndpoint}, {"jwks_uri", m.JWKSURI},
	} {
		if e.value == "" {
			continue
		}
		if reason := checkURL(e.value); reason != "" {
			return nil, &HTTPError{Endpoint: "discovery", StatusCode: res.status, Reason: e.name + " " + reason}
		}
	}
	return &m, nil
}

// isPermanent reports whether a discovery failure must stop the caller
// rather than fall back to the issuer-derived endpoints.
func isPermanent(err error) bool {
	return errors.Is(err, ErrIssuerMismatch)
}
