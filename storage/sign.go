package storage

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// filesPath is where the API serves Local's objects.
const filesPath = "/v1/files/"

// URL implements Backend: <baseURL>/v1/files/<key>?expires=<unix>&sig=<hex>,
// where sig is the HMAC-SHA256 of the key and expires under the secret.
func (l *Local) URL(ctx context.Context, key string, ttl time.Duration) (string, time.Time, error) {
	if err := CheckKey(key); err != nil {
		return "", time.Time{}, err
	}
	if len(l.secret) < minSecret {
		return "", time.Time{}, fmt.Errorf("link to %s: the secret has %d bytes, fewer than %d", key, len(l.secret), minSecret)
	}
	if ttl <= 0 {
		return "", time.Time{}, fmt.Errorf("link to %s: ttl %v is not positive", key, ttl)
	}
	exp := l.nowFunc().Add(ttl).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "sig": {l.sign(key, exp)}}
	return l.baseURL + filesPath + escapeKey(key) + "?" + q.Encode(), time.Unix(exp, 0).UTC(), nil
}

// sign is the hex HMAC-SHA256 of key and expires.
func (l *Local) sign(key string, expires int64) string {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write(strconv.AppendInt(nil, expires, 10))
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks sig in constant time.
func (l *Local) verify(key string, expires int64, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil || len(l.secret) < minSecret {
		return false
	}
	want, _ := hex.DecodeString(l.sign(key, expires))
	return hmac.Equal(got, want)
}

// escapeKey escapes each segment of a key for a URL path.
func escapeKey(key string) string {
	var b strings.Builder
	for i, seg := range strings.Split(key, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}
