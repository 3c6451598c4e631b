package main

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/ledger/credit"
)

// chromiumPath finds Debian's chromium (`make tools` installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: `make tools` installs Debian's chromium package")
	return ""
}

// chrome is one headless Chromium, with the errors its pages reported (a
// Content-Security-Policy violation, an uncaught exception).
type chrome struct {
	t   *testing.T
	ctx context.Context
	dir string

	mu       sync.Mutex
	problems []string
	// stop ends the reading of the console; done closes once it ended.
	stop context.CancelFunc
	done chan struct{}
}

func newChrome(t *testing.T) *chrome {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1366, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	dir := t.TempDir()
	if d := os.Getenv("CREDITRUN_SCREENSHOTS"); d != "" {
		dir = d // keep them, to look at
	}
	c := &chrome{t: t, ctx: bctx, dir: dir, done: make(chan struct{})}
	cctx, stop := context.WithCancel(bctx)
	c.stop = stop
	messages := chromedp.Console(cctx)
	go func() {
		defer close(c.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			bad := m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(m.Text, "Content Security Policy")
			// A 403 or 404 page is logged as a failed load; those are the
			// pages the test asks for.
			if bad && !strings.Contains(m.Text, "status of 40") {
				c.mu.Lock()
				c.problems = append(c.problems, m.String())
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// reported stops reading the console and returns what the pages reported.
func (c *chrome) reported() []string {
	c.stop()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.problems
}

// stepGuard bounds one step, so that a page that never shows what a step
// waits for fails the test rather than stalls it; no step waits on a clock.
const stepGuard = 20 * time.Second

func (c *chrome) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepGuard)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(c.ctx, chromedp.Location())
		if buf, serr := chromedp.Run(c.ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.WriteFile(filepath.Join(c.dir, "failed.png"), buf, 0o644)
		}
		c.t.Fatalf("%s (at %s; failed.png in %s): %v", what, loc, c.dir, err)
	}
}

// shoot saves a full-page screenshot at a laptop's and a phone's width, and
// checks that neither is blank.
func (c *chrome) shoot(name string) {
	c.t.Helper()
	for _, size := range []struct {
		suffix string
		w, h   int64
	}{{"laptop", 1366, 900}, {"phone", 390, 844}} {
		c.run("resize for "+name, chromedp.EmulateViewport(size.w, size.h))
		buf, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			c.t.Fatalf("screenshot %s: %v", name, err)
		}
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			c.t.Fatalf("screenshot %s: %v", name, err)
		}
		colors := map[uint32]bool{}
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y += 3 {
			for x := b.Min.X; x < b.Max.X; x += 3 {
				r, g, bl, _ := img.At(x, y).RGBA()
				colors[r>>8<<16|g>>8<<8|bl>>8] = true
			}
		}
		if len(colors) < 16 || b.Dx() < int(size.w)-20 {
			c.t.Errorf("screenshot %s-%s looks blank: %d colors, %dx%d", name, size.suffix, len(colors), b.Dx(), b.Dy())
		}
		if err := os.WriteFile(filepath.Join(c.dir, name+"-"+size.suffix+".png"), buf, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	c.run("back to the laptop width", chromedp.EmulateViewport(1366, 900))
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (c *chrome) location() string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Location())
	if err != nil {
		c.t.Fatalf("read the location: %v", err)
	}
	return s
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// signIn signs in through the form, as a person types a key.
func (c *chrome) signIn(base, key, landsOn string) {
	c.t.Helper()
	c.run("sign in", chromedp.Navigate(base+"/console/login"), chromedp.WaitVisible(css(`#key`)),
		chromedp.SendKeys(css(`#key`), key), chromedp.Click(css(`form[action="/console/login"] button`)),
		chromedp.WaitVisible(css(landsOn)))
}

func (c *chrome) signOut() {
	c.t.Helper()
	c.run("sign out", chromedp.Click(css(`form[action="/console/logout"] button`)), chromedp.WaitVisible(css(`#key`)))
}

// TestConsoleInChromium works the console as people do, in headless
// Chromium: finance signs in, pays one unpaid hold and waives another from
// the list (htmx swaps the row), and the job's results are released through
// the API; a pay whose form lost its CSRF token is refused in place and
// changes nothing; a customer sees its own account and not another's, nor the
// holds; an admin sees the queues; signing out ends each session. Every
// page is saved as a screenshot at a laptop's and a phone's width.
func TestConsoleInChromium(t *testing.T) {
	c := newConsoleAPI(t)
	acct, h1 := c.held(t, 1)
	_, h2 := c.held(t, 95)
	other, _ := c.held(t, 3)
	user := c.userKey(t, acct)
	if _, _, err := c.ledger.AddGrant(context.Background(), credit.GrantRequest{Account: acct, Pool: "people", ID: credit.NewGrantID(),
		Amount: 5000, ExpiresAt: time.Now().Add(90 * 24 * time.Hour), Reason: "pack-5k"}); err != nil {
		t.Fatal(err)
	}
	ch := newChrome(t)

	// Finance: the unpaid holds, then pay one and waive one in place.
	ch.signIn(c.url, c.finance, `tr[data-hold-id="`+h1.ID+`"]`)
	ch.shoot("holds")
	row := func(h string) string { return `tr[data-hold-id="` + h + `"]` }
	dueBefore := ch.text(`#total-due`)
	ch.run("pay", chromedp.SendKeys(css(row(h1.ID)+` input[name="payment_ref"]`), "inv_1001"),
		chromedp.Click(css(row(h1.ID)+` form[action$="/pay"] button`)),
		chromedp.WaitVisible(css(row(h1.ID)+` .status-paid`)))
	if loc := ch.location(); !strings.HasSuffix(loc, "/console/holds?status=unpaid") {
		t.Errorf("after pay the browser is at %s: htmx should have swapped the row in place", loc)
	}
	if note := ch.text(row(h1.ID) + ` .note`); !strings.Contains(note, "inv_1001") {
		t.Errorf("paid row says %q", note)
	}
	req, _ := http.NewRequest(http.MethodGet, c.url+"/v1/jobs/"+h1.JobID+"/results", nil)
	req.Header.Set("Authorization", "Bearer "+user)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the paid job's results through the API: %d", resp.StatusCode)
	}
	ch.run("waive", chromedp.SendKeys(css(row(h2.ID)+` input[name="reason"]`), "goodwill"),
		chromedp.Click(css(row(h2.ID)+` form[action$="/waive"] button`)),
		chromedp.WaitVisible(css(row(h2.ID)+` .status-waived`)))
	ch.shoot("holds-closed")
	// The total due followed the rows, as a reload shows it.
	dueInPlace := ch.text(`#total-due`)
	ch.run("reload the list", chromedp.Navigate(c.url+"/console/holds?status=unpaid"), chromedp.WaitVisible(css(`#total-due`)))
	if due := ch.text(`#total-due`); dueInPlace != due || dueInPlace == dueBefore {
		t.Errorf("total due %q before, %q after paying and waiving in place, %q on reload", dueBefore, dueInPlace, due)
	}
	// A form posted without its CSRF token is refused and changes nothing.
	_, h3 := c.held(t, 3)
	ch.run("reload", chromedp.Navigate(c.url+"/console/holds?status=unpaid"), chromedp.WaitVisible(css(row(h3.ID))))
	if _, err := chromedp.Run(ch.ctx, chromedp.Evaluate[bool](`(() => { document.querySelector('`+row(h3.ID)+
		` form[action$="/pay"] input[name=csrf]').remove(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	ch.run("pay without the token", chromedp.SendKeys(css(row(h3.ID)+` input[name="payment_ref"]`), "inv_forged"),
		chromedp.Click(css(row(h3.ID)+` form[action$="/pay"] button`)), chromedp.WaitVisible(css(`main .error`)))
	if msg := ch.text(`main .error`); !strings.Contains(msg, "nothing was changed") {
		t.Errorf("a post without its token says %q", msg)
	}
	if got, _ := c.ledger.Hold(context.Background(), h3.ID); got.Status != credit.HoldUnpaid {
		t.Errorf("hold after a post without its token: %s", got.Status)
	}
	ch.shoot("csrf-refused")
	ch.run("every hold", chromedp.Navigate(c.url+"/console/holds"), chromedp.WaitVisible(css(`#total-due`)))
	if due := ch.text(`#total-due`); !strings.Contains(due, "0.60") {
		t.Errorf("total due over every hold: %q, want the two unpaid ones' 0.60", due)
	}
	ch.run("an account", chromedp.Navigate(c.url+"/console/accounts/"+other), chromedp.WaitVisible(css(`[data-pool="people"]`)))
	ch.shoot("account-finance")
	ch.run("a job", chromedp.Navigate(c.url+"/console/accounts/"+acct+"/jobs/"+h1.JobID), chromedp.WaitVisible(css(`ul.files a`)))
	ch.shoot("job")
	ch.signOut()
	ch.run("holds after signing out", chromedp.Navigate(c.url+"/console/holds"), chromedp.WaitVisible(css(`#key`)))

	// A customer: its own account, not another's, not the holds.
	ch.signIn(c.url, user, `[data-pool="people"]`)
	if loc := ch.location(); !strings.HasSuffix(loc, "/console/accounts/"+acct) {
		t.Errorf("a user key lands on %s", loc)
	}
	ch.shoot("account-customer")
	// A running job's progress shows as it moves, without a reload.
	run := c.running(t, acct)
	ch.run("reload with a running job", chromedp.Navigate(c.url+"/console/accounts/"+acct),
		chromedp.WaitVisible(css(`tr[data-job-id="`+run.ID+`"] progress[value="40"]`)))
	if err := c.svc.Progress(context.Background(), acct, run.ID, jobs.Progress{Done: 7, Total: 10}); err != nil {
		t.Fatal(err)
	}
	ch.run("live progress", chromedp.WaitVisible(css(`tr[data-job-id="`+run.ID+`"] progress[value="70"]`)))
	ch.shoot("account-customer-running")
	for _, tc := range []struct{ path, title string }{
		{"/console/accounts/" + other, "Not Found"},
		{"/console/holds", "Forbidden"},
	} {
		ch.run("open "+tc.path, chromedp.Navigate(c.url+tc.path), chromedp.WaitVisible(css(`main h1`)))
		if got := ch.text(`main h1`); got != tc.title {
			t.Errorf("a user key at %s sees %q, want %q", tc.path, got, tc.title)
		}
	}
	ch.shoot("not-found")
	ch.signOut()
	ch.shoot("login")

	// An admin: the queues, with an archived task.
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: c.redis.Options().Addr})
	t.Cleanup(func() { client.Close() })
	if _, err := client.Enqueue(asynq.NewTask("job:run", nil), asynq.Queue("jobs"), asynq.TaskID("job_archived"), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.inspector.ArchiveTask("jobs", "job_archived"); err != nil {
		t.Fatal(err)
	}
	ch.signIn(c.url, c.admin, `tr[data-hold-id]`)
	ch.run("queues", chromedp.Navigate(c.url+"/console/queues"), chromedp.WaitVisible(css(`tr[data-task-id="job_archived"]`)))
	ch.shoot("queues")
	ch.run("run now", chromedp.Click(css(`tr[data-task-id="job_archived"] form[action$="/run"] button`)),
		chromedp.WaitVisible(css(`.flash`)))
	if info, err := c.inspector.GetTaskInfo("jobs", "job_archived"); err != nil || info.State != asynq.TaskStatePending {
		t.Errorf("task after run now: %+v, %v", info, err)
	}
	ch.signOut()

	for _, p := range ch.reported() {
		t.Errorf("the browser reported: %s", p)
	}
}
