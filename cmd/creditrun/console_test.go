package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/console"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// consoleAPI is the API of financeAPI with the console mounted as
// `creditrun api` mounts it, and asynq's inspector on the same Redis.
type consoleAPI struct {
	*financeAPI
	admin     string
	inspector *asynq.Inspector
}

func newConsoleAPI(t *testing.T) *consoleAPI {
	t.Helper()
	f := newFinanceAPI(t)
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: f.redis.Options().Addr})
	t.Cleanup(func() { insp.Close() })
	if err := mountConsole(f.api, console.Config{Jobs: f.svc, Ledger: f.ledger, Storage: f.local, Redis: f.redis, Queues: insp}); err != nil {
		t.Fatal(err)
	}
	admin, err := f.api.CreateKey(context.Background(), api.RoleAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	return &consoleAPI{financeAPI: f, admin: admin, inspector: insp}
}

// userKey makes a user key of account.
func (c *consoleAPI) userKey(t *testing.T, account string) string {
	t.Helper()
	k, err := c.api.CreateKey(context.Background(), api.RoleUser, account)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// running submits a download of 10 people on account and starts it, with 4
// of 10 done: a job in the middle of its run.
func (c *consoleAPI) running(t *testing.T, account string) jobs.Job {
	t.Helper()
	ctx := context.Background()
	j, err := c.svc.Submit(ctx, account, jobs.Spec{Kind: jobs.Download, DataType: "people", NumRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	if j, err = c.svc.Start(ctx, account, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.svc.Progress(ctx, account, j.ID, jobs.Progress{Done: 4, Total: 10}); err != nil {
		t.Fatal(err)
	}
	return j
}

// browser is a plain HTTP client with cookies and without JavaScript: what
// a browser with scripts off does.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	// csrf is the token of the last page's forms.
	csrf string
}

// page is one answer: its status, final URL, headers and body.
type page struct {
	status int
	url    string
	header http.Header
	body   string
}

func (c *consoleAPI) browser(t *testing.T) *browser { return newBrowser(t, c.url) }

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	p := page{status: resp.StatusCode, url: resp.Request.URL.RequestURI(), header: resp.Header, body: string(body)}
	if m := csrfInput.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	// Every page of the console, error pages too, sends a CSP.
	if strings.HasPrefix(resp.Request.URL.Path, "/console/") && !strings.HasPrefix(resp.Request.URL.Path, "/console/static/") {
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
			b.t.Errorf("%s %s: Content-Security-Policy %q", req.Method, req.URL.Path, csp)
		}
	}
	return p
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

// post submits a form; with header pairs set as request headers.
func (b *browser) post(path string, form url.Values, header ...string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

// signIn signs in with key through the form and returns the page it lands on.
func (b *browser) signIn(key string) page {
	b.t.Helper()
	login := b.get("/console/login")
	if login.status != http.StatusOK || !strings.Contains(login.body, `name="key"`) || !strings.Contains(login.body, "Sign in") {
		b.t.Fatalf("sign-in page: %d\n%s", login.status, login.body)
	}
	return b.post("/console/login", url.Values{"key": {key}, "csrf": {b.csrf}})
}

// TestConsoleSignIn: a key signs in through the form and gets a session
// cookie (HttpOnly, SameSite=Strict, Secure behind https) kept in Redis with
// an idle expiry; a wrong key does not; signing out ends the session, and a
// revoked key ends its sessions.
func TestConsoleSignIn(t *testing.T) {
	c := newConsoleAPI(t)
	ctx := context.Background()
	b := c.browser(t)

	if p := b.get("/console/holds"); p.status != http.StatusOK || !strings.HasPrefix(p.url, "/console/login?next=") {
		t.Fatalf("holds without a session: %d at %s", p.status, p.url)
	}
	if p := b.signIn("cr_live_notakeyatallnotakeyatall00"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "not known") {
		t.Fatalf("a wrong key: %d\n%s", p.status, p.body)
	}
	p := b.signIn(c.finance)
	if p.status != http.StatusOK || p.url != "/console/holds?status=unpaid" || !strings.Contains(p.body, "Overage holds") {
		t.Fatalf("finance signed in: %d at %s\n%s", p.status, p.url, p.body)
	}
	if strings.Contains(p.body, c.finance) {
		t.Error("a page shows the key")
	}

	// The cookie, as set behind a proxy that terminated https (in another
	// browser).
	hb := c.browser(t)
	hb.get("/console/login") // a sign-in token, in the jar and in hb.csrf
	req, _ := http.NewRequest(http.MethodPost, c.url+"/console/login", strings.NewReader(url.Values{"key": {c.finance}, "csrf": {hb.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	for _, ck := range hb.c.Jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var set string
	for _, v := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "creditrun_console=") {
			set = v
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Secure", "Path=/console/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}

	// Signing in again in one browser ends its first session: two browsers,
	// two sessions.
	if p := b.signIn(c.finance); p.url != "/console/holds?status=unpaid" {
		t.Fatalf("signing in again: %d at %s", p.status, p.url)
	}
	// Redis keeps the sessions with an idle expiry, and not the key.
	keys, err := c.redis.Keys(ctx, "cr:console:session:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("sessions in Redis: %v, %v", keys, err)
	}
	for _, k := range keys {
		ttl, err := c.redis.TTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > console.DefaultIdleTimeout {
			t.Errorf("session %s TTL %s, %v", k, ttl, err)
		}
		m, _ := c.redis.HGetAll(ctx, k).Result()
		for _, v := range m {
			if strings.Contains(v, c.finance) {
				t.Errorf("session %s keeps the key", k)
			}
		}
	}

	// Signing out ends the session: the page asks to sign in again, and
	// the old cookie, replayed, opens nothing.
	old := b.c.Jar.Cookies(req.URL)
	b.get("/console/holds") // the session's form token
	p = b.post("/console/logout", url.Values{"csrf": {b.csrf}})
	if !strings.HasPrefix(p.url, "/console/login") || !strings.Contains(p.body, "You are signed out") {
		t.Fatalf("sign out: %d at %s", p.status, p.url)
	}
	if p := b.get("/console/holds"); !strings.HasPrefix(p.url, "/console/login") {
		t.Errorf("holds after signing out: %d at %s", p.status, p.url)
	}
	// htmx refreshing a part of a page is told to send the page to sign in.
	req, _ = http.NewRequest(http.MethodGet, c.url+"/console/holds", nil)
	req.Header.Set("HX-Request", "true")
	if p := b.do(req); p.status != http.StatusUnauthorized || !strings.HasPrefix(p.header.Get("HX-Redirect"), "/console/login?next=") {
		t.Errorf("an htmx refresh after signing out: %d, HX-Redirect %q", p.status, p.header.Get("HX-Redirect"))
	}
	replay := c.browser(t)
	replay.c.Jar.SetCookies(req.URL, old)
	if p := replay.get("/console/holds"); !strings.HasPrefix(p.url, "/console/login") {
		t.Errorf("holds with the cookie of an ended session: %d at %s", p.status, p.url)
	}

	// A revoked key ends its sessions at once.
	info, secret, err := c.api.IssueKey(ctx, api.RoleFinance, "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.browser(t)
	if p := r.signIn(secret); p.url != "/console/holds?status=unpaid" {
		t.Fatalf("second finance key: %d at %s", p.status, p.url)
	}
	if _, err := c.api.RevokeKey(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	if p := r.get("/console/holds"); !strings.HasPrefix(p.url, "/console/login") {
		t.Errorf("holds after the key was revoked: %d at %s", p.status, p.url)
	}
}

// TestConsoleRoles: a user key sees its own account and jobs, and 404 for
// another account's, as the API; the holds and queues pages are not for it,
// and finance cannot open the queues.
func TestConsoleRoles(t *testing.T) {
	c := newConsoleAPI(t)
	mine, h := c.held(t, 1)
	other, oh := c.held(t, 2)
	g, _, err := c.ledger.AddGrant(context.Background(), credit.GrantRequest{Account: mine, Pool: "people", ID: credit.NewGrantID(),
		Amount: 12500, Reason: "pack-12k"})
	if err != nil {
		t.Fatal(err)
	}
	b := c.browser(t)
	p := b.signIn(c.userKey(t, mine))
	if p.status != http.StatusOK || p.url != "/console/accounts/"+mine {
		t.Fatalf("user signed in: %d at %s", p.status, p.url)
	}
	for _, want := range []string{`data-pool="people"`, h.JobID, `data-hold-id="` + h.ID + `"`, "Due now", "Journal",
		`data-grant-id="` + g.ID + `"`, "pack-12k", "0 of this period's 2, 12,500 from grants"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("own account page lacks %q", want)
		}
	}
	if p := b.get("/console/accounts/" + mine + "/jobs/" + h.JobID); p.status != http.StatusOK || !strings.Contains(p.body, "kept back while the hold is unpaid") {
		t.Errorf("own held job: %d\n%s", p.status, p.body)
	}
	for _, path := range []string{"/console/accounts/" + other, "/console/accounts/" + other + "/jobs/" + oh.JobID,
		"/console/accounts/" + mine + "/jobs/" + oh.JobID, "/console/accounts/nobody"} {
		if p := b.get(path); p.status != http.StatusNotFound || strings.Contains(p.body, other) && path != "/console/accounts/nobody" {
			t.Errorf("user key at %s: %d", path, p.status)
		}
	}
	for _, path := range []string{"/console/holds", "/console/queues"} {
		if p := b.get(path); p.status != http.StatusForbidden {
			t.Errorf("user key at %s: %d", path, p.status)
		}
	}
	if p := b.post("/console/holds/"+h.ID+"/pay", url.Values{"csrf": {b.csrf}, "payment_ref": {"self"}}); p.status != http.StatusForbidden {
		t.Errorf("user key paying its hold: %d", p.status)
	}
	if got, _ := c.ledger.Hold(context.Background(), h.ID); got.Status != credit.HoldUnpaid {
		t.Errorf("hold after a user's pay: %s", got.Status)
	}

	fin := c.browser(t)
	fin.signIn(c.finance)
	if p := fin.get("/console/accounts/" + other); p.status != http.StatusOK || !strings.Contains(p.body, oh.JobID) {
		t.Errorf("finance at another account: %d", p.status)
	}
	if p := fin.get("/console/queues"); p.status != http.StatusForbidden {
		t.Errorf("finance at the queues: %d", p.status)
	}
	if p := fin.get("/console/accounts?id=" + other); p.url != "/console/accounts/"+other {
		t.Errorf("go to account: %s", p.url)
	}
}

// TestConsoleCSRF: a form posted without its token, with another session's,
// or from another origin is refused with 403 and changes nothing.
func TestConsoleCSRF(t *testing.T) {
	c := newConsoleAPI(t)
	_, h := c.held(t, 1)
	b := c.browser(t)
	b.signIn(c.finance)
	good := b.csrf
	other := c.browser(t)
	other.signIn(c.finance)
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{"payment_ref": {"inv_1"}}, nil},
		{"wrong token", url.Values{"payment_ref": {"inv_1"}, "csrf": {"x" + good}}, nil},
		{"another session's token", url.Values{"payment_ref": {"inv_1"}, "csrf": {other.csrf}}, nil},
		{"another origin", url.Values{"payment_ref": {"inv_1"}, "csrf": {good}}, []string{"Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/console/holds/"+h.ID+"/pay", tc.form, tc.header...)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "nothing was changed") {
				t.Errorf("pay: %d\n%s", p.status, p.body)
			}
		})
	}
	if got, _ := c.ledger.Hold(context.Background(), h.ID); got.Status != credit.HoldUnpaid {
		t.Errorf("hold after refused posts: %s", got.Status)
	}
	// Signing in needs the form's token too, and signing out.
	anon := c.browser(t)
	if p := anon.post("/console/login", url.Values{"key": {c.finance}}); p.status != http.StatusForbidden {
		t.Errorf("sign in without the token: %d", p.status)
	}
	if p := b.post("/console/logout", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("sign out without the token: %d", p.status)
	}
}

// TestConsolePayWaiveWithoutJS pays and waives holds with plain form posts,
// as a browser without JavaScript does: each redirects to the list, which
// says what was done; the job's results are released through the API; the
// total due counts the unpaid holds only.
func TestConsolePayWaiveWithoutJS(t *testing.T) {
	c := newConsoleAPI(t)
	acct, h1 := c.held(t, 1)
	_, h2 := c.held(t, 2)
	_, h3 := c.held(t, 30)
	b := c.browser(t)
	p := b.signIn(c.finance)
	for _, h := range []credit.Hold{h1, h2, h3} {
		if !strings.Contains(p.body, `data-hold-id="`+h.ID+`"`) {
			t.Errorf("unpaid list lacks %s", h.ID)
		}
	}
	// 10 + 20 + 300 cents, with the separators people read.
	if !strings.Contains(p.body, "Due on the unpaid holds listed: <strong>3.30</strong>") {
		t.Errorf("total due missing:\n%s", p.body)
	}

	// An empty reference changes nothing and says what is missing.
	if p := b.post("/console/holds/"+h1.ID+"/pay", url.Values{"csrf": {b.csrf}, "payment_ref": {""}, "back": {"?status=unpaid"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "payment reference") {
		t.Errorf("pay without a reference: %d\n%s", p.status, p.body)
	}
	p = b.post("/console/holds/"+h1.ID+"/pay", url.Values{"csrf": {b.csrf}, "payment_ref": {"inv_123"}, "back": {"?status=unpaid"}})
	if p.status != http.StatusOK || !strings.HasPrefix(p.url, "/console/holds?status=unpaid&closed="+h1.ID) ||
		!strings.Contains(p.body, "paid (reference inv_123)") || strings.Contains(p.body, `data-hold-id="`+h1.ID+`"`) {
		t.Fatalf("after pay: %d at %s\n%s", p.status, p.url, p.body)
	}
	if got, _ := c.ledger.Hold(context.Background(), h1.ID); got.Status != credit.HoldPaid || got.PaymentRef != "inv_123" {
		t.Errorf("hold after pay: %+v", got)
	}
	// The job's results are released: the API answers them to its account.
	req, _ := http.NewRequest(http.MethodGet, c.url+"/v1/jobs/"+h1.JobID+"/results", nil)
	req.Header.Set("Authorization", "Bearer "+c.userKey(t, acct))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("results after pay: %d", resp.StatusCode)
	}

	p = b.post("/console/holds/"+h2.ID+"/waive", url.Values{"csrf": {b.csrf}, "reason": {"goodwill"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "waived (goodwill)") {
		t.Fatalf("after waive: %d at %s", p.status, p.url)
	}
	if got, _ := c.ledger.Hold(context.Background(), h2.ID); got.Status != credit.HoldWaived {
		t.Errorf("hold after waive: %+v", got)
	}
	// A paid hold cannot be waived.
	if p := b.post("/console/holds/"+h1.ID+"/waive", url.Values{"csrf": {b.csrf}, "reason": {"late"}}); p.status != http.StatusConflict {
		t.Errorf("waive a paid hold: %d", p.status)
	}

	// htmx's post gets the row back, to swap in place.
	p = b.post("/console/holds/"+h3.ID+"/pay", url.Values{"csrf": {b.csrf}, "payment_ref": {"inv_9"}}, "HX-Request", "true")
	if p.status != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(p.body), `<tr data-hold-id="`+h3.ID+`"`) || !strings.Contains(p.body, "status-paid") {
		t.Errorf("htmx pay: %d\n%s", p.status, p.body)
	}

	// Due means unpaid: closed holds owe nothing.
	if p := b.get("/console/holds?status=paid"); !strings.Contains(p.body, "Nothing is due on the holds listed") || !strings.Contains(p.body, h1.ID) {
		t.Errorf("paid list:\n%s", p.body)
	}
	if p := b.get("/console/holds?status=unpaid"); !strings.Contains(p.body, "No holds match") || !strings.Contains(p.body, "every job") {
		t.Errorf("empty unpaid list:\n%s", p.body)
	}
}

// TestConsoleQueues: the admin's queues page shows each queue's states and
// its archived and retry tasks, and runs or deletes one.
func TestConsoleQueues(t *testing.T) {
	c := newConsoleAPI(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: c.redis.Options().Addr})
	t.Cleanup(func() { client.Close() })
	for _, id := range []string{"task_run", "task_del"} {
		info, err := client.Enqueue(asynq.NewTask("job:run", nil), asynq.Queue("jobs"), asynq.TaskID(id), asynq.ProcessIn(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.inspector.ArchiveTask("jobs", info.ID); err != nil {
			t.Fatal(err)
		}
	}
	b := c.browser(t)
	b.signIn(c.admin)
	p := b.get("/console/queues")
	for _, want := range []string{`data-queue="jobs"`, `data-task-id="task_run"`, `data-task-id="task_del"`, "Archived", "Run now", "Delete"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("queues page lacks %q:\n%s", want, p.body)
		}
	}
	p = b.post("/console/queues/jobs/tasks/task_run/run", url.Values{"csrf": {b.csrf}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "is pending again") {
		t.Errorf("run now: %d %s", p.status, p.url)
	}
	if info, err := c.inspector.GetTaskInfo("jobs", "task_run"); err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("task after run now: %+v, %v", info, err)
	}
	p = b.post("/console/queues/jobs/tasks/task_del/delete", url.Values{"csrf": {b.csrf}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "is deleted") {
		t.Errorf("delete: %d %s", p.status, p.url)
	}
	if _, err := c.inspector.GetTaskInfo("jobs", "task_del"); err == nil {
		t.Error("deleted task still there")
	}
	if p := b.post("/console/queues/jobs/tasks/task_del/delete", url.Values{"csrf": {b.csrf}}); p.status != http.StatusNotFound {
		t.Errorf("delete a deleted task: %d", p.status)
	}
}

// TestConsoleProgress: a customer's account and job pages show a running
// job's progress, and ask htmx to refresh it while the job runs (a reload
// does without JavaScript); the refresh stops once the job ends.
func TestConsoleProgress(t *testing.T) {
	c := newConsoleAPI(t)
	ctx := context.Background()
	acct, err := c.svc.CreateAccount(ctx, "", "Beta", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	j := c.running(t, acct.ID)
	b := c.browser(t)
	b.signIn(c.userKey(t, acct.ID))
	for _, path := range []string{"/console/accounts/" + acct.ID, "/console/accounts/" + acct.ID + "/jobs/" + j.ID} {
		p := b.get(path)
		for _, want := range []string{`progress max="100" value="40"`, `hx-trigger="every 2s"`, "running"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	if _, err := c.svc.Complete(ctx, acct.ID, j.ID, jobs.Outcome{Found: 10, Delivered: 10}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/console/accounts/" + acct.ID)
	if strings.Contains(p.body, `hx-trigger="every 2s"`) || !strings.Contains(p.body, "succeeded") {
		t.Errorf("account page after the job ended still refreshes, or does not say it succeeded")
	}
	// 1,000 credits less the 10 it cost, with the separator.
	if !strings.Contains(p.body, "<strong>990</strong> available") || !strings.Contains(p.body, "of 1,000 this period") {
		t.Errorf("pool after the job:\n%s", p.body)
	}
}

// TestConsoleOnCreditrunAll works the console of `creditrun all` on real
// Redis, as wired by the binary: the bootstrap admin key signs in, finds the
// unpaid hold of a job the worker ran, pays it with a plain form post, and
// the job's results come out of the API; the queues page reads the queue
// the job went through; the customer sees its account.
func TestConsoleOnCreditrunAll(t *testing.T) {
	t.Parallel()
	s := startStack(t, stackOptions{roles: roles{api: true, worker: true, scheduler: true}})
	acct, key := s.newAccount(t, "people-1k-99")
	s.setAvailable(t, acct, key, "people", 5)
	j, _ := s.submit(t, key, "/v1/downloads", map[string]any{"data_type": "people", "query": "*", "num_records": 20, "format": "csv"})
	j, _ = s.waitSucceeded(t, key, j.ID)
	if j.Hold == nil || j.Hold.Status != "unpaid" {
		t.Fatalf("job %+v: want an unpaid hold", j)
	}

	b := newBrowser(t, s.base)
	p := b.signIn(s.admin)
	if p.url != "/console/holds?status=unpaid" || !strings.Contains(p.body, `data-hold-id="`+j.Hold.ID+`"`) || !strings.Contains(p.body, "<strong>1.50</strong>") {
		t.Fatalf("admin's holds: %d at %s\n%s", p.status, p.url, p.body)
	}
	p = b.post("/console/holds/"+j.Hold.ID+"/pay", url.Values{"csrf": {b.csrf}, "payment_ref": {"inv_all_1"}, "back": {"?status=unpaid"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "paid (reference inv_all_1)") {
		t.Fatalf("pay: %d at %s", p.status, p.url)
	}
	if r := s.call(t, "GET", "/v1/jobs/"+j.ID+"/results", key, nil); r.status != http.StatusOK {
		t.Errorf("results after paying in the console: %s", r)
	}
	if p := b.get("/console/queues"); p.status != http.StatusOK || !strings.Contains(p.body, `data-queue="`) {
		t.Errorf("queues: %d\n%s", p.status, p.body)
	}

	u := newBrowser(t, s.base)
	if p := u.signIn(key); p.url != "/console/accounts/"+acct || !strings.Contains(p.body, j.ID) {
		t.Errorf("customer: %d at %s", p.status, p.url)
	}
	if p := u.get("/console/accounts/" + acct + "/jobs/" + j.ID); !strings.Contains(p.body, "Download csv") {
		t.Errorf("customer's paid job has no download:\n%s", p.body)
	}
}

// TestConsoleAssets: the stylesheet and htmx come from the binary with
// their types (the pages send nosniff); nothing else is listed or served.
// An htmx post that is refused says so in place of the page's main part.
func TestConsoleAssets(t *testing.T) {
	c := newConsoleAPI(t)
	b := c.browser(t)
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/console/static/console.css", "text/css", http.StatusOK},
		{"/console/static/htmx.min.js", "javascript", http.StatusOK},
		{"/console/static/", "", http.StatusNotFound},
		{"/console/static/nothing.js", "", http.StatusNotFound},
		{"/console/nowhere", "text/html", http.StatusNotFound},
	} {
		p := b.get(tc.path)
		if p.status != tc.status || !strings.Contains(p.header.Get("Content-Type"), tc.ctype) {
			t.Errorf("%s: %d %s", tc.path, p.status, p.header.Get("Content-Type"))
		}
	}
	if p := b.get("/console/static/htmx.min.js"); !strings.Contains(p.body, "htmx") || len(p.body) < 10_000 {
		t.Errorf("htmx.min.js: %d bytes", len(p.body))
	}

	_, h := c.held(t, 1)
	b.signIn(c.finance)
	p := b.post("/console/holds/"+h.ID+"/pay", url.Values{"payment_ref": {"inv_1"}}, "HX-Request", "true")
	if p.status != http.StatusForbidden || p.header.Get("HX-Retarget") != "main" || p.header.Get("HX-Reselect") != "main" {
		t.Errorf("a refused htmx post: %d, HX-Retarget %q", p.status, p.header.Get("HX-Retarget"))
	}
}

// TestConsoleJournalPaging walks an account's journal a page at a time,
// oldest first, as finance reads it.
func TestConsoleJournalPaging(t *testing.T) {
	c := newConsoleAPI(t)
	ctx := context.Background()
	acct, err := c.svc.CreateAccount(ctx, "", "Gamma", []string{"people-1k-99"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := c.ledger.TopUp(ctx, acct.ID, "people", int64(1000+i), "top-up", ""); err != nil {
			t.Fatal(err)
		}
	}
	b := c.browser(t)
	b.signIn(c.finance)
	next := regexp.MustCompile(`href="([^"]*\?journal=[^"]+)">Later entries`)
	var amounts []string
	amount := regexp.MustCompile(`<td data-label="Amount" class="n">([0-9,]+)</td>`)
	path := "/console/accounts/" + acct.ID
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("the journal does not end")
		}
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Fatalf("%s: %d", path, p.status)
		}
		at := strings.Index(p.body, `id="journal-h"`)
		if at < 0 {
			t.Fatalf("%s has no journal:\n%s", path, p.body)
		}
		for _, m := range amount.FindAllStringSubmatch(p.body[at:], -1) {
			amounts = append(amounts, m[1])
		}
		path = ""
		if m := next.FindStringSubmatch(p.body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	// The grant of the plan, then the 30 top-ups in order, with separators.
	if len(amounts) != 31 || amounts[0] != "1,000" || amounts[1] != "1,000" || amounts[30] != "1,029" {
		t.Errorf("journal amounts over every page: %v", amounts)
	}
}

// TestConsoleSignInLimit: one address may try to sign in 20 times a minute,
// right key or wrong; then the form answers 429 and signs no one in.
func TestConsoleSignInLimit(t *testing.T) {
	c := newConsoleAPI(t)
	b := c.browser(t)
	for i := range 20 {
		if p := b.signIn("cr_live_wrongwrongwrongwrongwrong0" + strconv.Itoa(i%10)); p.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, p.status)
		}
	}
	p := b.signIn(c.finance)
	if p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Too many sign-in attempts") {
		t.Errorf("attempt 21: %d\n%s", p.status, p.body)
	}
	if p := b.get("/console/holds"); !strings.HasPrefix(p.url, "/console/login") {
		t.Errorf("signed in past the limit: at %s", p.url)
	}
}
