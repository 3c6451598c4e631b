package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// newRedisClient connects to CREDITRUN_REDIS_URL's forms:
//
//	redis://[user:pass@]host:port/db        a single server (rediss:// for TLS)
//	redis+cluster://[user:pass@]h1:p1,h2:p2  Redis Cluster, from any of its nodes
//	redis+sentinel://[user:pass@]h1:p1,h2:p2/master[/db]  Sentinel
func newRedisClient(raw string) (redis.UniversalClient, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("redis url %q: no scheme", raw)
	}
	switch scheme {
	case "redis", "rediss":
		opts, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		return redis.NewClient(opts), nil
	case "redis+cluster", "redis+sentinel":
	default:
		return nil, fmt.Errorf("redis url %q: scheme must be redis, rediss, redis+cluster or redis+sentinel", raw)
	}
	// host lists do not parse as one URL host, so the user part and the path
	// are cut by hand.
	var user, pass string
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		u, err := url.Parse("x://" + rest[:at] + "@h")
		if err != nil {
			return nil, fmt.Errorf("redis url: %w", err)
		}
		user = u.User.Username()
		pass, _ = u.User.Password()
		rest = rest[at+1:]
	}
	hosts, path, _ := strings.Cut(rest, "/")
	addrs := strings.Split(hosts, ",")
	for _, a := range addrs {
		if !strings.Contains(a, ":") {
			return nil, fmt.Errorf("redis url %q: address %q has no port", raw, a)
		}
	}
	if scheme == "redis+cluster" {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Username: user, Password: pass}), nil
	}
	master, dbPart, _ := strings.Cut(path, "/")
	if master == "" {
		return nil, fmt.Errorf("redis url %q: sentinel needs a master name: redis+sentinel://h:p/master", raw)
	}
	db := 0
	if dbPart != "" {
		n, err := strconv.Atoi(dbPart)
		if err != nil {
			return nil, fmt.Errorf("redis url %q: db %q: %w", raw, dbPart, err)
		}
		db = n
	}
	return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: addrs,
		Username: user, Password: pass, DB: db}), nil
}
