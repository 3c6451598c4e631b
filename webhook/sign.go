package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// secretPrefix starts every endpoint secret, as the Standard Webhooks spec
// and its libraries expect.
const secretPrefix = "whsec_"

// newSecret returns a fresh endpoint secret: whsec_ and 32 random bytes in
// base64.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the webhook-signature header of one message: "v1," and the
// base64 HMAC-SHA256 of "{msgID}.{unix seconds}.{body}" keyed by the
// secret's decoded bytes. It is the spec's own Go library that signs.
func Sign(secret, msgID string, at time.Time, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return wh.Sign(msgID, at, body)
}

// sealer keeps endpoint secrets in Redis encrypted (AES-256-GCM) under a key
// the processes are configured with, so that a Redis dump alone does not
// reveal them. Without a key they are stored as they are, marked "plain:".
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key string) (sealer, error) {
	if key == "" {
		return sealer{}, nil
	}
	sum := sha256.Sum256([]byte("creditrun webhook secrets\x00" + key))
	block, err := aes.NewCipher(sum[:])
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

// errSealed is returned when a sealed secret cannot be opened: no key, or
// another key than the one it was sealed with.
var errSealed = errors.New("the endpoint's secret is sealed with another key (CREDITRUN_WEBHOOK_KEY)")

func (s sealer) seal(secret, id string) string {
	if s.aead == nil {
		return "plain:" + secret
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(secret), []byte(id))
	return "gcm:" + base64.StdEncoding.EncodeToString(out)
}

func (s sealer) open(stored, id string) (string, error) {
	if rest, ok := strings.CutPrefix(stored, "plain:"); ok {
		return rest, nil
	}
	rest, ok := strings.CutPrefix(stored, "gcm:")
	if !ok || s.aead == nil {
		return "", errSealed
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errSealed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(id))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}
