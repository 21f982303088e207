// Package oauth is an OpenID Connect relying-party client for confidential
// web apps: authorize URLs with state, nonce and PKCE, code exchange, ID token
// verification, userinfo, refresh, revocation and RP-initiated logout.
package oauth
