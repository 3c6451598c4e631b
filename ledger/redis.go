package ledger

import (
	"context"
	"embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/ledger/credit"
)

// DefaultRetainEnded is how long a settled or voided reservation is kept,
// unless Options.RetainEnded says otherwise.
const DefaultRetainEnded = 30 * 24 * time.Hour

// Redis is the ledger on Redis: standalone, Cluster or miniredis.
type Redis struct {
	client       redis.UniversalClient
	keys         keys
	nowFunc      func() time.Time
	retainEnded  time.Duration
	waitReplicas int
	waitTimeout  time.Duration
}

// Options configure a Redis ledger.
type Options struct {
	// Prefix starts every key. Defaults to "cr". Tests set their own, so that
	// they can share one server.
	Prefix string
	// NowFunc is the clock. Defaults to time.Now.
	NowFunc func() time.Time
	// RetainEnded is how long a reservation is kept once it has ended
	// (settled, voided, or posted at acceptance): long enough for any
	// redelivery of its job to find it settled. The journal keeps what it
	// did for good. Defaults to DefaultRetainEnded; below a millisecond
	// counts as unset.
	RetainEnded time.Duration
	// WaitReplicas, when above 0, makes every script that changes credits
	// wait (Redis WAIT) until that many replicas have its write before it
	// answers, so that a failover to a replica loses no change a caller saw
	// succeed. A change that reaches fewer replicas within WaitTimeout
	// returns an error, though it was made on the master: callers treat it
	// as any failure after which the change may or may not stand, which
	// every keyed change allows. For a standalone master with replicas
	// (Sentinel); not for Redis Cluster. Defaults to 0: no waiting.
	WaitReplicas int
	// WaitTimeout bounds each wait for replicas. Defaults to 1 second.
	WaitTimeout time.Duration
}

// New returns a ledger that keeps its state through client.
func New(client redis.UniversalClient, opts Options) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "cr"
	}
	if opts.NowFunc == nil {
		opts.NowFunc = time.Now
	}
	if opts.RetainEnded < time.Millisecond {
		opts.RetainEnded = DefaultRetainEnded
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = time.Second
	}
	return &Redis{client: client, keys: keys{prefix: opts.Prefix}, nowFunc: opts.NowFunc, retainEnded: opts.RetainEnded,
		waitReplicas: max(opts.WaitReplicas, 0), waitTimeout: opts.WaitTimeout}
}

//go:embed scripts/*.lua
var scriptFS embed.FS

// The scripts, each with common.lua in front.
var (
	reserveScript      = loadScript("reserve.lua")
	settleScript       = loadScript("settle.lua")
	voidScript         = loadScript("void.lua")
	closeHoldScript    = loadScript("close_hold.lua")
	adjustScript       = loadScript("adjust.lua")
	openScript         = loadScript("open.lua")
	refreshScript      = loadScript("refresh.lua")
	refundScript       = loadScript("refund.lua")
	grantAddScript     = loadScript("grant_add.lua")
	grantVoidScript    = loadScript("grant_void.lua")
	grantsExpireScript = loadScript("grants_expire.lua")
)

func loadScript(name string) *redis.Script {
	common, err := scriptFS.ReadFile("scripts/common.lua")
	if err != nil {
		panic(err)
	}
	body, err := scriptFS.ReadFile("scripts/" + name)
	if err != nil {
		panic(err)
	}
	return redis.NewScript(withHelpers(string(common), string(body)))
}

// withHelpers puts in front of body the paragraphs of common that it uses:
// those that define a name that body names, or that a paragraph it uses
// names, and every paragraph that defines nothing (comments). Lua runs the
// whole text on every EVALSHA, so each helper a script carries costs it a
// closure or a table per call, called or not.
func withHelpers(common, body string) string {
	type paragraph struct {
		text, code string
		names      []string
		used       bool
	}
	var ps []paragraph
	for text := range strings.SplitSeq(common, "\n\n") {
		p := paragraph{text: text, code: luaComment.ReplaceAllString(text, "")}
		for _, m := range luaLocal.FindAllStringSubmatch(p.code, -1) {
			p.names = append(p.names, m[1])
		}
		p.used = len(p.names) == 0
		ps = append(ps, p)
	}
	need := luaComment.ReplaceAllString(body, "")
	for grew := true; grew; {
		grew = false
		for i, p := range ps {
			if !p.used && slices.ContainsFunc(p.names, func(n string) bool { return namesWord(need, n) }) {
				ps[i].used, grew = true, true
				need += "\n" + p.code
			}
		}
	}
	var b strings.Builder
	for _, p := range ps {
		if p.used {
			b.WriteString(p.text)
			b.WriteString("\n\n")
		}
	}
	b.WriteString(body)
	return b.String()
}

var (
	luaComment = regexp.MustCompile(`--[^\n]*`)
	luaLocal   = regexp.MustCompile(`(?m)^local (?:function )?([A-Za-z_][A-Za-z0-9_]*)`)
)

// namesWord reports whether code has name as a whole word.
func namesWord(code, name string) bool {
	for i := 0; ; {
		j := strings.Index(code[i:], name)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(name)
		if (j == 0 || !luaIdent(code[j-1])) && (end == len(code) || !luaIdent(code[end])) {
			return true
		}
		i = end
	}
}

func luaIdent(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func (l *Redis) now() time.Time { return l.nowFunc() }

// run runs a script and splits its reply into its code and the rest.
func (l *Redis) run(ctx context.Context, s *redis.Script, keys []string, args ...any) (string, []any, error) {
	return l.runThen(ctx, s, nil, keys, args...)
}

// runThen is run with then's commands sent after the script in the same
// pipeline; then may be nil.
func (l *Redis) runThen(ctx context.Context, s *redis.Script, then func(redis.Pipeliner), keys []string, args ...any) (string, []any, error) {
	var v []any
	var err error
	if l.waitReplicas > 0 || then != nil {
		v, err = l.runPipelined(ctx, s, then, keys, args...)
	} else {
		v, err = s.Run(ctx, l.client, keys, args...).Slice()
	}
	if err != nil {
		return "", nil, err
	}
	if len(v) == 0 {
		return "", nil, fmt.Errorf("empty script reply")
	}
	code, ok := v[0].(string)
	if !ok {
		return "", nil, fmt.Errorf("script reply starts with %T", v[0])
	}
	return code, v[1:], nil
}

// runPipelined runs a script, then's commands (then may be nil) and, with
// Options.WaitReplicas, a WAIT for the replicas, in one pipeline. It goes
// down one connection, as WAIT needs (it waits for the writes of its own
// connection), and Redis runs its commands in order. A script Redis does not
// know yet is loaded once, and the pipeline sent again.
func (l *Redis) runPipelined(ctx context.Context, s *redis.Script, then func(redis.Pipeliner), keys []string, args ...any) ([]any, error) {
	for loaded := false; ; loaded = true {
		pipe := l.client.Pipeline()
		eval := s.EvalSha(ctx, pipe, keys, args...)
		if then != nil {
			then(pipe)
		}
		var wait *redis.Cmd
		if l.waitReplicas > 0 {
			wait = pipe.Do(ctx, "wait", l.waitReplicas, l.waitTimeout.Milliseconds())
		}
		_, _ = pipe.Exec(ctx)
		if err := eval.Err(); err != nil {
			if !loaded && redis.HasErrorPrefix(err, "NOSCRIPT") {
				if err := s.Load(ctx, l.client).Err(); err != nil {
					return nil, err
				}
				continue
			}
			return nil, err
		}
		if wait == nil {
			return eval.Slice()
		}
		n, err := wait.Int64()
		if err != nil {
			return nil, fmt.Errorf("wait for replicas: %w", err)
		}
		if n < int64(l.waitReplicas) {
			return nil, fmt.Errorf("the change reached %d of %d replicas within %s", n, l.waitReplicas, l.waitTimeout)
		}
		return eval.Slice()
	}
}

// fields turns a flat field, value, ... reply into a map.
func fields(v []any) map[string]string {
	m := make(map[string]string, len(v)/2)
	for i := 0; i+1 < len(v); i += 2 {
		m[str(v[i])] = str(v[i+1])
	}
	return m
}

// mergedFields turns a reply of parts, each a flat field, value, ... list,
// into one map; a later part's value of a field replaces an earlier one's.
func mergedFields(parts []any) map[string]string {
	m := make(map[string]string, 24)
	for _, p := range parts {
		list, _ := p.([]any)
		for i := 0; i+1 < len(list); i += 2 {
			m[str(list[i])] = str(list[i+1])
		}
	}
	return m
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

func integer(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	default:
		return 0
	}
}

// i64 reads a field as an integer. Lua may write a whole number as "1e+15"
// under some interpreters, so floats are accepted too.
func i64(m map[string]string, k string) int64 {
	s := m[k]
	if s == "" {
		return 0 // absent: most of an entry's deltas are
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, _ := strconv.ParseFloat(s, 64)
	return int64(f)
}

// ms reads a unix-millisecond field as a time; zero when absent.
func ms(m map[string]string, k string) time.Time {
	n := i64(m, k)
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// codeError turns a script's refusal into the ledger's typed error.
func codeError(code string, rest []any) error {
	switch code {
	case "UNKNOWN_ACCOUNT":
		return credit.ErrUnknownAccount
	case "UNKNOWN_POOL":
		return credit.ErrUnknownPool
	case "OVERAGE_DISABLED":
		return credit.ErrOverageDisabled
	case "CONFLICT":
		return credit.ErrReservationConflict
	case "CONDITION":
		return credit.ErrConditionFailed
	case "NOT_FOUND":
		return credit.ErrReservationNotFound
	case "GRANT_NOT_FOUND":
		return credit.ErrGrantNotFound
	case "GRANT_CONFLICT":
		return credit.ErrGrantConflict
	case "VOIDED":
		return credit.ErrAlreadyVoided
	case "SETTLED":
		return credit.ErrAlreadySettled
	case "REFUNDED":
		return credit.ErrAlreadyRefunded
	case "POOL":
		if len(rest) >= 1 {
			return fmt.Errorf("%w: the job reserved from pool %q", credit.ErrReservationConflict, str(rest[0]))
		}
	case "INSUFFICIENT":
		if len(rest) >= 2 {
			return &credit.InsufficientError{Required: integer(rest[0]), Available: integer(rest[1])}
		}
	case "COST":
		if len(rest) >= 1 {
			return fmt.Errorf("%w: reserved %d", credit.ErrCostExceedsReserved, integer(rest[0]))
		}
	case "IDS":
		if len(rest) >= 2 {
			return fmt.Errorf("%w: a dedup settlement needs one record id per credit: got %d ids for a cost of %d",
				credit.ErrInvalidAmount, integer(rest[0]), integer(rest[1]))
		}
	}
	return fmt.Errorf("unexpected script reply %s %v", code, rest)
}
