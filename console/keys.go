package console

// keys builds the names of the console's Redis keys, and only it: every
// key starts with the configured prefix.
type keys struct{ prefix string }

// session is the hash of one signed-in session, named by the SHA-256 of
// its cookie's token, so that what Redis holds cannot be replayed as a
// cookie.
func (k keys) session(tokenHash string) string { return k.prefix + ":console:session:" + tokenHash }

// signIns counts the sign-in attempts from one address (go-redis/redis_rate
// prefixes it with "rate:").
func (k keys) signIns(addr string) string { return k.prefix + ":console:signin:" + addr }
