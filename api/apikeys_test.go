package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creditrun/creditrun/api"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func withClock(c *fakeClock) option { return func(cfg *apiConfig) { cfg.NowFunc = c.Now } }

func sha(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// keyJSON is a key as the API lists it.
type keyJSON struct {
	ID         string     `json:"id"`
	Role       string     `json:"role"`
	AccountID  *string    `json:"account_id"`
	CreatedAt  *time.Time `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	APIKey     string     `json:"api_key"`
}

func (e *env) listKeys(t testing.TB, path string) map[string]keyJSON {
	t.Helper()
	r := e.do(t, req{method: http.MethodGet, path: path, key: e.admin})
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if strings.Contains(string(r.body), "cr_live_") || strings.Contains(string(r.body), "api_key") {
		t.Fatalf("GET %s shows a secret: %s", path, r.body)
	}
	var out struct{ Keys []keyJSON }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	m := map[string]keyJSON{}
	for _, k := range out.Keys {
		m[k.ID] = k
	}
	return m
}

func (e *env) newKey(t testing.TB, path string, body any) keyJSON {
	t.Helper()
	r := e.do(t, req{method: http.MethodPost, path: path, key: e.admin, body: body})
	if r.status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	var k keyJSON
	if err := json.Unmarshal(r.body, &k); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "key_") || !strings.HasPrefix(k.APIKey, api.KeyPrefix) {
		t.Fatalf("POST %s: %s", path, r.body)
	}
	return k
}

// TestKeys creates, lists and revokes keys over the API: ids, roles,
// accounts and expiry as given, never a secret in a listing, and a revoked
// key refused.
func TestKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct, first := e.account(t, "people-1k-99")
	other, _ := e.account(t, "people-1k-99")
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	user := e.newKey(t, "/v1/accounts/"+acct+"/keys", map[string]any{"role": "user", "expires_at": expires.Format(time.RFC3339)})
	if user.Role != "user" || user.AccountID == nil || *user.AccountID != acct || user.ExpiresAt == nil || !user.ExpiresAt.Equal(expires) || user.CreatedAt == nil {
		t.Errorf("created user key %+v", user)
	}
	// No body: a user key that never expires.
	plain := e.newKey(t, "/v1/accounts/"+acct+"/keys", nil)
	if plain.ExpiresAt != nil || plain.Role != "user" {
		t.Errorf("a key of an empty body %+v", plain)
	}
	fin := e.newKey(t, "/v1/keys", map[string]any{"role": "finance"})
	adm := e.newKey(t, "/v1/keys", map[string]any{"role": "admin", "expires_at": nil})
	if fin.Role != "finance" || fin.AccountID != nil || adm.Role != "admin" || adm.ExpiresAt != nil {
		t.Errorf("staff keys %+v %+v", fin, adm)
	}
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: user.APIKey}); r.status != http.StatusOK {
		t.Fatalf("the new user key: %d %s", r.status, r.body)
	}
	// A created admin key does what the bootstrap key does.
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/keys", key: adm.APIKey}); r.status != http.StatusOK {
		t.Fatalf("the new admin key: %d %s", r.status, r.body)
	}

	all := e.listKeys(t, "/v1/keys")
	for _, k := range []keyJSON{user, plain, fin, adm} {
		got, ok := all[k.ID]
		if !ok || got.Role != k.Role || (got.AccountID == nil) != (k.AccountID == nil) {
			t.Errorf("GET /v1/keys: %s is %+v, want %+v", k.ID, got, k)
		}
	}
	if len(all) != 6 { // the two accounts' first keys too
		t.Errorf("GET /v1/keys: %d keys, want 6: %v", len(all), all)
	}
	mine := e.listKeys(t, "/v1/accounts/"+acct+"/keys")
	if len(mine) != 3 {
		t.Errorf("GET /v1/accounts/%s/keys: %v, want the first key and two more", acct, mine)
	}
	for _, k := range mine {
		if k.AccountID == nil || *k.AccountID != acct {
			t.Errorf("another account's key in the listing: %+v", k)
		}
	}
	if theirs := e.listKeys(t, "/v1/accounts/"+other+"/keys"); len(theirs) != 1 {
		t.Errorf("GET /v1/accounts/%s/keys: %v", other, theirs)
	}

	// Only admin keys list and revoke.
	for _, key := range []string{first, fin.APIKey} {
		e.do(t, req{method: http.MethodGet, path: "/v1/keys", key: key}).error(t, http.StatusForbidden, "forbidden")
		e.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + user.ID, key: key}).error(t, http.StatusForbidden, "forbidden")
	}

	r := e.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + user.ID, key: e.admin})
	if r.status != http.StatusOK || !strings.Contains(string(r.body), user.ID) || strings.Contains(string(r.body), "cr_live_") {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	e.do(t, req{method: http.MethodGet, path: "/v1/account", key: user.APIKey}).error(t, http.StatusUnauthorized, "unauthorized")
	e.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + user.ID, key: e.admin}).error(t, http.StatusNotFound, "not_found")
	if _, ok := e.listKeys(t, "/v1/keys")[user.ID]; ok {
		t.Error("a revoked key is listed")
	}
	if _, ok := e.listKeys(t, "/v1/accounts/"+acct+"/keys")[user.ID]; ok {
		t.Error("a revoked key is listed under its account")
	}
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: plain.APIKey}); r.status != http.StatusOK {
		t.Fatalf("another key of the account after a revocation: %d %s", r.status, r.body)
	}
	// An admin key revoked is refused too.
	if r := e.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + adm.ID, key: e.admin}); r.status != http.StatusOK {
		t.Fatalf("revoke the admin key: %d %s", r.status, r.body)
	}
	e.do(t, req{method: http.MethodGet, path: "/v1/keys", key: adm.APIKey}).error(t, http.StatusUnauthorized, "unauthorized")
}

// TestKeyRequestsRefused checks that bad key requests get a 400 or 404 of
// the API's shape and make no key.
func TestKeyRequestsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct, _ := e.account(t, "people-1k-99")
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct {
		path  string
		body  any
		field string
	}{
		{"/v1/keys", map[string]any{"role": "user"}, "role"},
		{"/v1/keys", map[string]any{"role": "root"}, "role"},
		{"/v1/keys", map[string]any{}, "role"},
		{"/v1/keys", nil, "body"},
		{"/v1/keys", map[string]any{"role": "finance", "expires_at": past}, "expires_at"},
		{"/v1/keys", map[string]any{"role": "finance", "expires_at": "tomorrow"}, "expires_at"},
		{"/v1/keys", map[string]any{"role": "finance", "expires_at": 1893456000}, "expires_at"},
		{"/v1/keys", map[string]any{"role": "finance", "account": acct}, "account"},
		{"/v1/accounts/" + acct + "/keys", map[string]any{"role": "admin"}, "role"},
		{"/v1/accounts/" + acct + "/keys", map[string]any{"expires_at": past}, "expires_at"},
		{"/v1/accounts/" + acct + "/keys", map[string]any{"expires_at": "2030-13-01T00:00:00Z"}, "expires_at"},
	} {
		d := e.do(t, req{method: http.MethodPost, path: tt.path, key: e.admin, body: tt.body}).error(t, http.StatusBadRequest, "invalid_request")
		if d["field"] != tt.field {
			t.Errorf("POST %s %v: field %v, want %s", tt.path, tt.body, d["field"], tt.field)
		}
	}
	e.do(t, req{method: http.MethodPost, path: "/v1/accounts/nobody/keys", key: e.admin, body: map[string]any{"role": "user"}}).error(t, http.StatusNotFound, "not_found")
	e.do(t, req{method: http.MethodGet, path: "/v1/accounts/nobody/keys", key: e.admin}).error(t, http.StatusNotFound, "not_found")
	for _, id := range []string{"key_01jzzzzzzzzzzzzzzzzzzzzzzz", "nokey", "key_", "key_UPPER"} {
		e.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + id, key: e.admin}).error(t, http.StatusNotFound, "not_found")
	}
	if keys := e.listKeys(t, "/v1/keys"); len(keys) != 1 {
		t.Errorf("refused requests made keys: %v", keys)
	}
}

// TestKeyExpiry checks that a key past its expires_at is refused, cached or
// not, and that last_used_at is written about once a minute, not on every
// request.
func TestKeyExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, withClock(clock))
	acct, _ := e.account(t, "people-1k-99")
	k := e.newKey(t, "/v1/accounts/"+acct+"/keys", map[string]any{"expires_at": "2030-01-01T13:00:00Z"})
	if got := e.listKeys(t, "/v1/keys")[k.ID]; got.LastUsedAt != nil {
		t.Errorf("an unused key has last_used_at %v", got.LastUsedAt)
	}
	use := func(status int) {
		t.Helper()
		if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: k.APIKey}); r.status != status {
			t.Fatalf("at %s: %d %s, want %d", clock.Now().Format(time.RFC3339), r.status, r.body, status)
		}
	}
	lastUsed := func() time.Time {
		t.Helper()
		got := e.listKeys(t, "/v1/keys")[k.ID]
		if got.LastUsedAt == nil {
			t.Fatalf("no last_used_at: %+v", got)
		}
		return *got.LastUsedAt
	}
	use(http.StatusOK)
	first := clock.Now()
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("last_used_at %s, want %s", got, first)
	}
	clock.Add(30 * time.Second)
	use(http.StatusOK)
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("last_used_at %s 30 s on, want it left at %s", got, first)
	}
	clock.Add(31 * time.Second)
	use(http.StatusOK)
	if got := lastUsed(); !got.Equal(clock.Now()) {
		t.Errorf("last_used_at %s a minute on, want %s", got, clock.Now())
	}
	clock.Add(59 * time.Minute) // 13:00:01
	use(http.StatusUnauthorized)
	use(http.StatusUnauthorized)
	if _, ok := e.listKeys(t, "/v1/keys")[k.ID]; !ok {
		t.Error("an expired key is not listed: it is listed until revoked")
	}
}

// TestBootstrapAdminKey checks that the admin key of the setting is
// compared, not stored: a process with another setting refuses it, and the
// record that earlier versions stored for it at each start is deleted when
// the API starts with it, so that changing the setting revokes it.
func TestBootstrapAdminKey(t *testing.T) {
	t.Parallel()
	var cfg api.Config
	e := newEnv(t, func(c *apiConfig) { cfg = *c })
	old := e.admin
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/keys", key: old}); r.status != http.StatusOK {
		t.Fatalf("the bootstrap key: %d %s", r.status, r.body)
	}
	record := e.prefix + ":apikey:" + sha(old)
	if n := e.client.Exists(ctx, record).Val(); n != 0 {
		t.Fatal("the bootstrap key is stored")
	}
	if keys := e.listKeys(t, "/v1/keys"); len(keys) != 0 {
		t.Errorf("the bootstrap key is listed: %v", keys)
	}
	// As an earlier version left it: the key stored at each start.
	if err := e.client.HSet(ctx, record, "role", "admin", "account", "").Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.api.MigrateKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.client.Exists(ctx, record).Val(); n != 0 {
		t.Fatal("the record stored for the bootstrap key is left after MigrateKeys")
	}
	// The setting changes: the old key is refused, the new one works.
	rotated := e.twin(t, cfg, func(c *apiConfig) { c.AdminKey = api.NewKey() })
	rotated.do(t, req{method: http.MethodGet, path: "/v1/keys", key: old}).error(t, http.StatusUnauthorized, "unauthorized")
	if r := rotated.do(t, req{method: http.MethodGet, path: "/v1/keys", key: rotated.admin}); r.status != http.StatusOK {
		t.Fatalf("the new bootstrap key: %d %s", r.status, r.body)
	}
	for _, bad := range []string{"short", "has a space in it", strings.Repeat("x", 513)} {
		c := cfg
		c.AdminKey = bad
		if _, err := api.New(c); err == nil {
			t.Errorf("api.New took the admin key %q", bad)
		}
	}
}

// TestLegacyKeys checks keys stored before key ids: they keep working, are
// listed with an id derived from their hash, and can be revoked by it.
func TestLegacyKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct, _ := e.account(t, "people-1k-99")
	user, fin := api.NewKey(), api.NewKey()
	for key, fields := range map[string][]any{user: {"role", "user", "account", acct}, fin: {"role", "finance", "account", ""}} {
		if err := e.client.HSet(ctx, e.prefix+":apikey:"+sha(key), fields...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/account", key: user}); r.status != http.StatusOK {
		t.Fatalf("a legacy user key: %d %s", r.status, r.body)
	}
	userID, finID := "key_"+sha(user)[:26], "key_"+sha(fin)[:26]
	all := e.listKeys(t, "/v1/keys")
	for _, id := range []string{userID, finID} {
		if k, ok := all[id]; !ok || k.CreatedAt != nil {
			t.Errorf("legacy key %s listed as %+v (%v), want created_at null", id, k, ok)
		}
	}
	if _, ok := e.listKeys(t, "/v1/accounts/"+acct+"/keys")[userID]; !ok {
		t.Error("a legacy user key is not listed under its account")
	}
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/holds", key: fin}); r.status != http.StatusOK {
		t.Fatalf("a legacy finance key: %d %s", r.status, r.body)
	}
	for _, k := range []struct{ id, key, path string }{{userID, user, "/v1/account"}, {finID, fin, "/v1/holds"}} {
		if r := e.do(t, req{method: http.MethodDelete, path: "/v1/keys/" + k.id, key: e.admin}); r.status != http.StatusOK {
			t.Fatalf("revoke %s: %d %s", k.id, r.status, r.body)
		}
		e.do(t, req{method: http.MethodGet, path: k.path, key: k.key}).error(t, http.StatusUnauthorized, "unauthorized")
	}
	// A legacy key written after the first listing (by an older process in
	// a rolling upgrade) is indexed once it is used.
	late := api.NewKey()
	if err := e.client.HSet(ctx, e.prefix+":apikey:"+sha(late), "role", "finance", "account", "").Err(); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, req{method: http.MethodGet, path: "/v1/holds", key: late}); r.status != http.StatusOK {
		t.Fatalf("a late legacy key: %d %s", r.status, r.body)
	}
	if _, ok := e.listKeys(t, "/v1/keys")["key_"+sha(late)[:26]]; !ok {
		t.Error("a legacy key used after the first listing is not listed")
	}
}
