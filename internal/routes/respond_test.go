package routes

import (
	"maps"
	"testing"
)

// Every response owns its header map: whoever receives one may change it
// without touching the next response.
func TestResponsesOwnTheirHeaders(t *testing.T) {
	want := map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Content-Type":           "application/json",
	}
	first := jsonResponse(200, bodyUnauthenticated)
	first.Headers["Cache-Control"] = "public"
	first.Headers["Allow"] = "GET"
	if got := jsonResponse(200, bodyUnauthenticated).Headers; !maps.Equal(got, want) {
		t.Errorf("jsonResponse headers after a caller changed another's = %v; want %v", got, want)
	}

	delete(want, "Content-Type")
	want["Location"] = "/next"
	r := redirect("/elsewhere")
	r.Headers["X-Extra"] = "1"
	if got := redirect("/next").Headers; !maps.Equal(got, want) {
		t.Errorf("redirect(/next) headers after a caller changed another's = %v; want %v", got, want)
	}
}
