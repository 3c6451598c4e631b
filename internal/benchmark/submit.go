package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// SearchBody is the search the bench submits: a few people of one province,
// which costs what it delivers.
const SearchBody = `{"data_type": "people", "query": "province:TX", "num_records": 5}`

// Submitter submits searches over HTTP, as a client of the API does, on
// kept-alive connections.
type Submitter struct {
	url, key string
	client   *http.Client
	// IDs collects the ids of the jobs submitted.
	IDs IDs
}

// NewSubmitter returns a client of the stack's API that keeps up to conns
// connections open.
func NewSubmitter(s *Stack, conns int) *Submitter {
	return NewSubmitterTo(s.URL, s.Key, conns)
}

// NewSubmitterTo returns a client of the API at baseURL, posting to its
// /v1/searches with key, that keeps up to conns connections open: the
// ungated peer's (Ungated.URL) as well as creditrun's.
func NewSubmitterTo(baseURL, key string, conns int) *Submitter {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	return &Submitter{url: baseURL + "/v1/searches", key: key, client: &http.Client{Transport: t, Timeout: time.Minute}}
}

// Submit submits one search and notes its job id.
func (c *Submitter) Submit(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(SearchBody))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("submit: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var v struct {
		Job struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Job.ID == "" {
		return fmt.Errorf("submit: no job id in %.200s", body)
	}
	c.IDs.Add(v.Job.ID)
	return nil
}

// Close closes the client's idle connections.
func (c *Submitter) Close() { c.client.CloseIdleConnections() }

// IDs is a list of ids that goroutines add to.
type IDs struct {
	mu  sync.Mutex
	ids []string
}

// Add adds an id.
func (l *IDs) Add(id string) {
	l.mu.Lock()
	l.ids = append(l.ids, id)
	l.mu.Unlock()
}

// Take returns the ids added and empties the list.
func (l *IDs) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := l.ids
	l.ids = nil
	return ids
}

// BareQueueName is the asynq queue of the bare tasks, apart from creditrun's.
const BareQueueName = "crbench"

// BareTaskType is the type of the bare tasks.
const BareTaskType = "bench:noop"

// BareQueue is bare asynq: Client.Enqueue of a task whose payload is as
// long as a creditrun job:run task's.
type BareQueue struct {
	redis     redis.UniversalClient
	client    *asynq.Client
	inspector *asynq.Inspector
	payload   []byte
}

// NewBareQueue returns the bare queue on redisOpt; its payload is as long as
// that of a job:run task of account.
func NewBareQueue(redisOpt asynq.RedisConnOpt, account string) *BareQueue {
	sample := sampleRunTask(account)
	return &BareQueue{
		redis:     redisOpt.MakeRedisClient().(redis.UniversalClient),
		client:    asynq.NewClient(redisOpt),
		inspector: asynq.NewInspector(redisOpt),
		payload:   bytes.Repeat([]byte("x"), len(sample.Payload())),
	}
}

// Enqueue enqueues one task.
func (q *BareQueue) Enqueue(ctx context.Context) error {
	_, err := q.client.EnqueueContext(ctx, asynq.NewTask(BareTaskType, q.payload), asynq.Queue(BareQueueName))
	return err
}

// Clear deletes the bare queue and whatever tasks wait in it.
func (q *BareQueue) Clear() error {
	return deleteQueue(context.Background(), q.redis, q.inspector, BareQueueName)
}

// Server returns an asynq server with a no-op handler on the bare queue,
// running concurrency tasks at once, that counts into done; asynq's own
// messages go to its default logger at warning level and above.
func (q *BareQueue) Server(redisOpt asynq.RedisConnOpt, concurrency int, done *Counter) (*asynq.Server, asynq.Handler) {
	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency: concurrency,
		Queues:      map[string]int{BareQueueName: 1},
		LogLevel:    asynq.WarnLevel,
	})
	return srv, asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		done.Add()
		return nil
	})
}

// Close closes the bare queue's connections.
func (q *BareQueue) Close() {
	q.client.Close()
	q.inspector.Close()
	q.redis.Close()
}
