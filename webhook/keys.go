package webhook

// keys builds every Redis key of the package. Endpoints and deliveries are
// read and written outside scripts, one key at a time or in pipelines, so
// they carry no account hash tag; the outbox does (events.OutboxKey).
type keys struct {
	prefix string
}

// endpoint is a hash: one endpoint (store.go says its fields).
func (k keys) endpoint(id string) string { return k.prefix + ":webhook:" + id }

// endpoints is a sorted set of every endpoint id by creation time (unix ms).
func (k keys) endpoints() string { return k.prefix + ":webhooks" }

// accountEndpoints is a set of the ids of the endpoints of one account.
func (k keys) accountEndpoints(account string) string {
	return k.prefix + ":webhooks:account:" + account
}

// globalEndpoints is a set of the ids of the endpoints that hear of every
// account (registered by a finance or admin key).
func (k keys) globalEndpoints() string { return k.prefix + ":webhooks:all" }

// deliveries is a sorted set of an endpoint's message ids by creation time
// (unix ms).
func (k keys) deliveries(endpoint string) string { return k.endpoint(endpoint) + ":deliveries" }

// delivery is a hash: one message's delivery to one endpoint (Delivery).
func (k keys) delivery(endpoint, msg string) string { return k.endpoint(endpoint) + ":delivery:" + msg }

// inflight is a sorted set of the deliveries to an endpoint under way, by
// when their lease ends (unix ms): the per-endpoint concurrency bound.
func (k keys) inflight(endpoint string) string { return k.endpoint(endpoint) + ":inflight" }

// accounts is the ledger's set of every account id (ledger's keys.accounts):
// the relay looks at each account's outbox.
func (k keys) accounts() string { return k.prefix + ":accounts" }
