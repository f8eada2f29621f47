// Package testregistry runs a real registry (distribution/v3) in process on
// loopback, behind a bearer-token front end and a fault injector that
// reproduces the range quirks of registries in the field, and pushes test
// images to it. For tests only.
package testregistry

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // the storage driver
	"github.com/sirupsen/logrus"
)

// User and Password are the credentials the token endpoint accepts.
const (
	User     = "chunkdiff"
	Password = "s3cret"
)

// Server is a registry on loopback.
type Server struct {
	// Host is host:port, for references (HOST/repo:tag).
	Host string
	// URL is http://HOST.
	URL    string
	Faults *Faults
	srv    *httptest.Server

	mu       sync.Mutex
	tokens   int // tokens issued
	unauthed int // requests refused for lack of a token
}

var logOnce sync.Once

// Start runs a registry for the test's lifetime.
func Start(tb testing.TB) *Server {
	tb.Helper()
	// distribution logs every 404 (HEAD before a push) at error level.
	logOnce.Do(func() { logrus.SetLevel(logrus.FatalLevel) })
	cfg := &configuration.Configuration{}
	cfg.HTTP.Secret = "chunkdiff-test"
	cfg.Log.Level = "warn"
	cfg.Log.AccessLog.Disabled = true
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	app := handlers.NewApp(context.Background(), cfg)
	s := &Server{Faults: &Faults{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.token)
	mux.Handle("/", s.auth(s.Faults.wrap(app)))
	s.srv = httptest.NewServer(mux)
	tb.Cleanup(s.srv.Close)
	u, _ := url.Parse(s.srv.URL)
	s.Host = u.Host
	s.URL = s.srv.URL
	return s
}

// Close stops the server at once (Start also registers it for cleanup).
func (s *Server) Close() { s.srv.Close() }

// Tokens is how many tokens were issued.
func (s *Server) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

func tokenFor(scope string) string {
	h := sha256.Sum256([]byte(Password + scope))
	return "tok-" + hex.EncodeToString(h[:8])
}

// token is the token endpoint: Basic credentials in, bearer token out.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != User || pass != Password {
		w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	s.tokens++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tokenFor(""), "access_token": tokenFor(""), "expires_in": 300})
}

// auth refuses requests without the bearer token, pointing at /token.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+tokenFor("") {
			s.mu.Lock()
			s.unauthed++
			s.mu.Unlock()
			scope := ""
			if parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/", 2); len(parts) == 2 {
				scope = `,scope="repository:` + parts[0] + `:pull"`
			} else if parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/", 2); len(parts) == 2 {
				scope = `,scope="repository:` + parts[0] + `:pull,push"`
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.srv.URL+`/token",service="testregistry"`+scope)
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// DockerConfig writes a docker config.json with the server's credentials
// into dir and returns dir (for DOCKER_CONFIG).
func (s *Server) DockerConfig(tb testing.TB, dir string) string {
	tb.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(User + ":" + Password))
	raw, _ := json.Marshal(map[string]any{"auths": map[string]any{s.Host: map[string]string{"auth": auth}}})
	writeFile(tb, dir+"/config.json", raw)
	return dir
}
