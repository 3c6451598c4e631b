package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// redisTarget is CREDITRUN_REDIS_URL parsed. Its forms:
//
//	redis://[user:pass@]host:port/db          a single server (rediss:// for TLS)
//	redis+cluster://[user:pass@]h1:p1,h2:p2    Redis Cluster, from any of its nodes
//	redis+sentinel://[user:pass@]h1:p1,h2:p2/master[/db]   Sentinel
type redisTarget struct {
	mode     string // "single", "cluster" or "sentinel"
	addrs    []string
	user     string
	password string
	db       int
	master   string
	tls      *tls.Config
}

func parseRedisURL(raw string) (redisTarget, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return redisTarget{}, fmt.Errorf("redis url %q: no scheme", redactURL(raw))
	}
	switch scheme {
	case "redis", "rediss":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return redisTarget{}, fmt.Errorf("redis url %q: %w", redactURL(raw), redactError(err, raw))
		}
		return redisTarget{mode: "single", addrs: []string{opts.Addr}, user: opts.Username,
			password: opts.Password, db: opts.DB, tls: opts.TLSConfig}, nil
	case "redis+cluster", "redis+sentinel":
	default:
		return redisTarget{}, fmt.Errorf("redis url %q: scheme must be redis, rediss, redis+cluster or redis+sentinel", redactURL(raw))
	}
	var t redisTarget
	// A host list does not parse as one URL host, so the user part and the
	// path are cut by hand.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		u, err := url.Parse("x://" + rest[:at] + "@h")
		if err != nil {
			return redisTarget{}, fmt.Errorf("redis url %q: %w", redactURL(raw), redactError(err, raw))
		}
		t.user = u.User.Username()
		t.password, _ = u.User.Password()
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	t.addrs = strings.Split(hosts, ",")
	for _, a := range t.addrs {
		if !strings.Contains(a, ":") {
			return redisTarget{}, fmt.Errorf("redis url %q: address %q has no port", redactURL(raw), a)
		}
	}
	if scheme == "redis+cluster" {
		t.mode = "cluster"
		return t, nil
	}
	t.mode = "sentinel"
	master, dbPart, _ := strings.Cut(path, "/")
	if master == "" {
		return redisTarget{}, fmt.Errorf("redis url %q: sentinel needs a master name: redis+sentinel://h:p/master", redactURL(raw))
	}
	t.master = master
	if dbPart != "" {
		n, err := strconv.Atoi(dbPart)
		if err != nil {
			return redisTarget{}, fmt.Errorf("redis url %q: db %q is not a number", redactURL(raw), dbPart)
		}
		t.db = n
	}
	return t, nil
}

// client returns a go-redis client for the target.
func (t redisTarget) client(poolSize int) redis.UniversalClient {
	switch t.mode {
	case "cluster":
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: t.addrs, Username: t.user, Password: t.password, PoolSize: poolSize})
	case "sentinel":
		return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: t.master, SentinelAddrs: t.addrs,
			Username: t.user, Password: t.password, DB: t.db, PoolSize: poolSize})
	}
	return redis.NewClient(&redis.Options{Addr: t.addrs[0], Username: t.user, Password: t.password, DB: t.db,
		TLSConfig: t.tls, PoolSize: poolSize})
}

// asynq returns asynq's connection to the target.
func (t redisTarget) asynq() asynq.RedisConnOpt {
	switch t.mode {
	case "cluster":
		return asynq.RedisClusterClientOpt{Addrs: t.addrs, Username: t.user, Password: t.password}
	case "sentinel":
		return asynq.RedisFailoverClientOpt{MasterName: t.master, SentinelAddrs: t.addrs,
			Username: t.user, Password: t.password, DB: t.db}
	}
	return asynq.RedisClientOpt{Addr: t.addrs[0], Username: t.user, Password: t.password, DB: t.db, TLSConfig: t.tls}
}

// newRedisClient connects to a CREDITRUN_REDIS_URL.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	t, err := parseRedisURL(raw)
	if err != nil {
		return nil, err
	}
	return t.client(0), nil
}

// redacted stands for a password in what creditrun prints.
const redacted = "xxxxx"

// redactURL is a Redis URL as it may be printed or logged: its password,
// or a user part without one (which go-redis takes as the password),
// replaced by xxxxx. It works on URLs that do not parse, as the user part is
// found by its last "@".
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	userinfo := redacted
	if hasPass {
		userinfo = user + ":" + redacted
	}
	out := userinfo + rest[at:]
	if ok {
		out = scheme + "://" + out
	}
	return out
}

// redactError is err with every form of the secret of raw's user part
// replaced by xxxxx: url.Parse and go-redis quote the URL, or a part of it,
// in their errors.
func redactError(err error, raw string) error {
	msg := err.Error()
	if ue, ok := errors.AsType[*url.Error](err); ok {
		msg = ue.Err.Error() // without the URL it quotes
	}
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		rest = raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		secrets := []string{userinfo}
		if _, pass, ok := strings.Cut(userinfo, ":"); ok {
			secrets = append(secrets, pass)
		}
		for _, s := range secrets {
			forms := []string{s, strings.Trim(strconv.Quote(s), `"`)}
			if u, err := url.PathUnescape(s); err == nil {
				forms = append(forms, u)
			}
			for _, f := range forms {
				if f != "" {
					msg = strings.ReplaceAll(msg, f, redacted)
				}
			}
		}
		// A part of the user part that the error quotes, such as a bad
		// escape in the password ("%zz").
		msg = quoted.ReplaceAllStringFunc(msg, func(q string) string {
			if u, err := strconv.Unquote(q); err == nil && u != "" && strings.Contains(userinfo, u) {
				return `"` + redacted + `"`
			}
			return q
		})
	}
	return errors.New(msg)
}

// quoted matches a Go-quoted string in an error message.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
