// Package webhook tells customers and finance what happened, over HTTP, and
// never loses the message. Endpoints are registered per account, or for
// every account; the scripts that change credits and jobs write each event
// to an outbox stream on the account's slot (package events) in the same
// step as the change; the Relay moves outbox entries into asynq delivery
// tasks whose task id is the message id and the endpoint's, so moving twice
// sends nothing twice; the Deliverer posts each one, signed as the Standard
// Webhooks spec says, retrying with backoff for more than a day.
package webhook
