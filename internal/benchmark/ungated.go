package benchmark

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/oklog/ulid/v2"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/api"
	"github.com/creditrun/creditrun/jobs"
	"github.com/creditrun/creditrun/source"
	"github.com/creditrun/creditrun/worker"
)

// UngatedQueueName is the asynq queue of the ungated peer's tasks, apart
// from creditrun's and the bare ones.
const UngatedQueueName = "crbench-ungated"

// UngatedTaskType is the type of the ungated peer's tasks.
const UngatedTaskType = "bench:search"

// Ungated is the peer a user would write instead of creditrun: the same
// searches over HTTP and on asynq, with no credits, no job record and no
// API key. Its HTTP server is set up as creditrun's API is
// (api.NewHTTPServer with api.DefaultTimeouts, on a loopback listener); its
// one route, POST /v1/searches, decodes the search and enqueues one task
// whose payload is as long as a creditrun job:run task's, and answers 202
// with the job id, nothing else. Its worker runs the search on a source,
// writes the records (as JSON, as creditrun's search result) with one SET
// and marks the job done with one HSET.
type Ungated struct {
	// URL is the server's base URL.
	URL string
	// Prefix is the prefix of the Redis keys its worker writes:
	// Prefix:result:<id> and Prefix:job:<id>.
	Prefix string

	redis       redis.UniversalClient
	client      *asynq.Client
	inspector   *asynq.Inspector
	payloadSize int
	http        *http.Server
	served      chan struct{} // closed when Serve has returned
}

// ungatedSearch is the body of a search, the fields creditrun's API reads
// for one.
type ungatedSearch struct {
	DataType   string `json:"data_type"`
	Query      string `json:"query"`
	NumRecords int64  `json:"num_records"`
}

// ungatedPayload is an ungated task's payload: the job id and its search,
// under short names so that it fits in a job:run task's length.
type ungatedPayload struct {
	ID         string `json:"i"`
	DataType   string `json:"d"`
	Query      string `json:"q"`
	NumRecords int64  `json:"n"`
}

// NewUngated starts the ungated peer's HTTP server on redisOpt (its asynq
// queue) and client (its results, under prefix); its payloads are as long
// as a job:run task of account. Close stops it.
func NewUngated(ctx context.Context, client redis.UniversalClient, redisOpt asynq.RedisConnOpt, account, prefix string) (*Ungated, error) {
	sample := sampleRunTask(account)
	u := &Ungated{
		Prefix: prefix, redis: client,
		client: asynq.NewClient(redisOpt), inspector: asynq.NewInspector(redisOpt),
		payloadSize: len(sample.Payload()), served: make(chan struct{}),
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		u.Close()
		return nil, fmt.Errorf("ungated api: %w", err)
	}
	u.URL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/searches", u.submit)
	u.http = api.NewHTTPServer(mux, api.DefaultTimeouts)
	go func() {
		_ = u.http.Serve(ln) // http.ErrServerClosed after Close
		close(u.served)
	}()
	return u, nil
}

// submit decodes a search, enqueues its task and answers with the job id.
func (u *Ungated) submit(w http.ResponseWriter, r *http.Request) {
	var s ungatedSearch
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
		http.Error(w, "the body must be a JSON search: "+err.Error(), http.StatusBadRequest)
		return
	}
	id := strings.ToLower(ulid.Make().String())
	payload, err := u.payload(ungatedPayload{ID: id, DataType: s.DataType, Query: s.Query, NumRecords: s.NumRecords})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if _, err := u.client.EnqueueContext(r.Context(), asynq.NewTask(UngatedTaskType, payload),
		asynq.TaskID(id), asynq.Queue(UngatedQueueName)); err != nil {
		http.Error(w, "enqueue: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"job":{"id":%q}}`, id)
}

// payload encodes p, padded with spaces (which JSON ignores) to the length
// of a job:run task's payload when it is shorter.
func (u *Ungated) payload(p ungatedPayload) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	if pad := u.payloadSize - len(b); pad > 0 {
		b = append(b, bytes.Repeat([]byte(" "), pad)...)
	}
	return b, nil
}

// Server returns an asynq server on the ungated queue, running concurrency
// tasks at once, whose handler runs each task's search on src, writes the
// result and marks the job done, counting into done (or failing it);
// asynq's own messages go to its default logger at warning level and above.
func (u *Ungated) Server(redisOpt asynq.RedisConnOpt, src source.Source, concurrency int, done *Counter) (*asynq.Server, asynq.Handler) {
	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency: concurrency,
		Queues:      map[string]int{UngatedQueueName: 1},
		LogLevel:    asynq.WarnLevel,
	})
	return srv, asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if err := u.run(ctx, src, t); err != nil {
			done.Fail(fmt.Errorf("%s: %w", UngatedTaskType, err))
			return err
		}
		done.Add()
		return nil
	})
}

// run runs one task: the search, its records as a JSON array in one SET,
// and the job marked done in one HSET, the two in one round trip.
func (u *Ungated) run(ctx context.Context, src source.Source, t *asynq.Task) error {
	var p ungatedPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	res, err := src.Search(ctx, p.DataType, p.Query, int(p.NumRecords))
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var buf bytes.Buffer
	w := worker.NewRecordWriter(&buf, jobs.JSON, nil)
	for rec, err := range res.Records {
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if err := w.WriteRecord(rec); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	pipe := u.redis.Pipeline()
	pipe.Set(ctx, u.ResultKey(p.ID), buf.Bytes(), 0)
	pipe.HSet(ctx, u.JobKey(p.ID), "status", "done")
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// ResultKey is the key of a job's records.
func (u *Ungated) ResultKey(id string) string { return u.Prefix + ":result:" + id }

// JobKey is the key of a job's status.
func (u *Ungated) JobKey(id string) string { return u.Prefix + ":job:" + id }

// Clear deletes the ungated queue and whatever tasks wait in it. The
// worker's keys are the caller's to delete, by Prefix.
func (u *Ungated) Clear() error {
	return deleteQueue(context.Background(), u.redis, u.inspector, UngatedQueueName)
}

// Close stops the HTTP server and closes the peer's connections.
func (u *Ungated) Close() {
	if u.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = u.http.Shutdown(ctx)
		cancel()
		<-u.served
	}
	u.client.Close()
	u.inspector.Close()
}
