package devserver

import (
	"net/http"
	"strings"
)

// appCookies are the handlers' cookie names (ARCHITECTURE.md, Cookies).
var appCookies = map[string]bool{
	"session":               true,
	"__Host-session":        true,
	"signin_binding":        true,
	"__Host-signin_binding": true,
}

// withoutAppCookies keeps the app's cookies from the built-in provider and
// the provider's from the app's names. The two share a host here, and a
// browser sends a host's cookies to every port and, for Path=/, every path;
// a real provider lives on another site and never sees the app's session
// cookie. Dropping a Set-Cookie from the provider that reuses one of the
// app's names means a provider change can never sign the app out (or in).
func withoutAppCookies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lines := r.Header.Values("Cookie"); len(lines) > 0 {
			var kept []string
			for _, line := range lines {
				for c := range strings.SplitSeq(line, ";") {
					c = strings.TrimSpace(c)
					name, _, _ := strings.Cut(c, "=")
					if c != "" && !appCookies[name] {
						kept = append(kept, c)
					}
				}
			}
			r = r.Clone(r.Context())
			r.Header.Del("Cookie")
			if len(kept) > 0 {
				r.Header.Set("Cookie", strings.Join(kept, "; "))
			}
		}
		next.ServeHTTP(&cookieFilter{ResponseWriter: w}, r)
	})
}

// cookieFilter removes Set-Cookie headers that name an app cookie before
// the response goes out.
type cookieFilter struct {
	http.ResponseWriter
	wrote bool
}

func (f *cookieFilter) WriteHeader(status int) {
	if !f.wrote {
		f.wrote = true
		h := f.Header()
		if lines := h.Values("Set-Cookie"); len(lines) > 0 {
			h.Del("Set-Cookie")
			for _, line := range lines {
				name, _, _ := strings.Cut(line, "=")
				if !appCookies[strings.TrimSpace(name)] {
					h.Add("Set-Cookie", line)
				}
			}
		}
	}
	f.ResponseWriter.WriteHeader(status)
}

func (f *cookieFilter) Write(b []byte) (int, error) {
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	return f.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (f *cookieFilter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
