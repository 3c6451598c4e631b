package api

// keys builds every Redis key name the API uses. Keys of one account carry
// the hash tag {a:<account>} like the ledger's, so that they live in the
// account's slot on Redis Cluster.
type keys struct{ prefix string }

// apiKey is the record of one API key, by the SHA-256 of the key: a hash
// {role, account, id, created_at, expires_at, last_used_at}. It is found
// from the secret alone, so it carries no account tag.
func (k keys) apiKey(hash string) string { return k.prefix + ":apikey:" + hash }

// keyIndex maps every key's id to its hash: GET /v1/keys and revocation by
// id.
func (k keys) keyIndex() string { return k.prefix + ":keys:index" }

// accountKeys maps the ids of an account's keys to their hashes, in the
// account's slot.
func (k keys) accountKeys(account string) string { return k.prefix + ":{a:" + account + "}:keys" }

// keyEpoch is the revocation epoch: a counter that every revocation bumps,
// which every API process reads before it trusts its key cache.
func (k keys) keyEpoch() string { return k.prefix + ":keys:epoch" }

// keysIndexed is set once the records stored before key ids are indexed.
func (k keys) keysIndexed() string { return k.prefix + ":keys:indexed" }

// apiKeyPattern matches every key record, for indexing the records stored
// before key ids.
func (k keys) apiKeyPattern() string { return k.prefix + ":apikey:*" }

// firstKey marks that an account's first user key, the one POST
// /v1/accounts hands out, was issued: "pending:<hash>" while it is being
// stored, "done:<hash>" once it is.
func (k keys) firstKey(account string) string { return k.prefix + ":{a:" + account + "}:firstkey" }

// accountScope is the idempotency scope of a user key: its account.
func (k keys) accountScope(account string) string { return "{a:" + account + "}" }

// holderScope is the idempotency scope of a finance or admin key: the key
// itself, by its hash.
func (k keys) holderScope(keyHash string) string { return "{k:" + keyHash + "}" }

// idempotency is the record of one Idempotency-Key in a scope, by the key's
// SHA-256.
func (k keys) idempotency(scope, keyHash string) string {
	return k.prefix + ":" + scope + ":idem:" + keyHash
}

// usage holds an account's request counters of one UTC day, one field per
// hour and counter ("07:searches").
func (k keys) usage(account, day string) string {
	return k.prefix + ":{a:" + account + "}:usage:" + day
}

// rate names a rate-limit bucket for redis_rate, which puts "rate:" in front.
func (k keys) rate(subject string) string { return k.prefix + ":" + subject }
