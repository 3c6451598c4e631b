package benchmark

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// Figures is what `creditrun bench` reports: each of creditrun's paths, the
// bare tool beneath it measured in the same run, and their ratio; and the
// ungated peer of submits and jobs. The JSON names are the contract of
// `creditrun bench --json` (issues 2, 4, 5 and 6, and the ungated peer's);
// the figures after the download ones say how the run was made.
type Figures struct {
	LedgerPairsPerS  float64 `json:"ledger_pairs_per_s"`
	TrivialPairsPerS float64 `json:"trivial_pairs_per_s"`
	LedgerPairRatio  float64 `json:"ledger_pair_ratio"`

	SubmitPerS       float64 `json:"submit_per_s"`
	AsynqEnqueuePerS float64 `json:"asynq_enqueue_per_s"`
	SubmitRatio      float64 `json:"submit_ratio"`

	E2EPerS      float64 `json:"e2e_per_s"`
	AsynqE2EPerS float64 `json:"asynq_e2e_per_s"`
	E2ERatio     float64 `json:"e2e_ratio"`

	SubmitP50Ms float64 `json:"submit_p50_ms"`
	SubmitP99Ms float64 `json:"submit_p99_ms"`

	DownloadRSSMB1M  float64 `json:"download_rss_mb_1m"`
	DownloadRSSMB10k float64 `json:"download_rss_mb_10k"`

	// A CSV download of S3DownloadRecords people to S3 by a worker process,
	// against a bare transfer-manager upload of the same bytes: the ratio
	// is bare time / creditrun's, and the RSS the worker's peak while the
	// download ran (it holds the dataset's index besides).
	S3DownloadRatio float64 `json:"s3_download_ratio"`
	S3DownloadRSSMB float64 `json:"s3_download_rss_mb"`

	// One refresh sweep (scheduler.Refresher.Sweep) over RefreshAccounts
	// accounts of two ended pools each, against a bare sweep of the same
	// shape measured in the same run: per pool and account one HSET of
	// three fields and one ZADD, pipelined in pages of the sweep's size.
	// The ratio is creditrun's rate / the bare one.
	RefreshAccountsPerS     float64 `json:"refresh_accounts_per_s"`
	RefreshPoolsPerS        float64 `json:"refresh_pools_per_s"`
	RefreshBareAccountsPerS float64 `json:"refresh_bare_accounts_per_s"`
	RefreshRatio            float64 `json:"refresh_ratio"`

	// The peer a user would write instead (Ungated), measured in the same
	// run: submits over HTTP to a server set up as creditrun's API that
	// only decodes the search and enqueues its task, and those jobs run by
	// an asynq worker of the same concurrency that runs the same search and
	// writes its records with one SET and one HSET. The ratios are
	// creditrun's rate / the ungated one.
	UngatedSubmitPerS float64 `json:"ungated_submit_per_s"`
	SubmitVsUngated   float64 `json:"submit_vs_ungated"`
	UngatedE2EPerS    float64 `json:"ungated_e2e_per_s"`
	E2EVsUngated      float64 `json:"e2e_vs_ungated"`
	// redis-server's CPU time (INFO cpu) per job end to end, in
	// microseconds: creditrun's (the same as e2e_redis_cpu_us) and the
	// ungated peer's.
	JobRedisCPUUS        float64 `json:"job_redis_cpu_us"`
	UngatedJobRedisCPUUS float64 `json:"ungated_job_redis_cpu_us"`

	// A quote of a selective download (one city) on QuoteRecords people,
	// against a read of the account's pools, what a customer does without
	// quotes to compare by hand; in process, one goroutine each. The ratio
	// is the quote's rate / the read's.
	QuoteRecords       int64   `json:"quote_records"`
	QuotePerS          float64 `json:"quote_per_s"`
	QuoteMs            float64 `json:"quote_ms"`
	BalanceReadPerS    float64 `json:"balance_read_per_s"`
	QuoteVsBalanceRead float64 `json:"quote_vs_balance_read"`

	// Search jobs per second end to end (submitted over HTTP, run, ended)
	// by `creditrun all` without a webhook endpoint and with one that hears
	// every job.succeeded and answers each post after 5 seconds, WebhookJobs
	// jobs each, measured in the same run. The ratio is the slow endpoint's
	// rate / the rate without: near 1 when a slow receiver does not slow
	// jobs.
	WebhookJobs         int     `json:"webhook_jobs"`
	WebhookOffJobsPerS  float64 `json:"webhook_off_jobs_per_s"`
	WebhookSlowJobsPerS float64 `json:"webhook_slow_jobs_per_s"`
	WebhookSlowRatio    float64 `json:"webhook_slow_ratio"`

	Goroutines        int     `json:"goroutines"`
	DurationS         float64 `json:"duration_s"`
	E2EJobs           int     `json:"e2e_jobs"`
	WorkerConcurrency int     `json:"worker_concurrency"`
	LatencyRatePerS   float64 `json:"latency_rate_per_s"`
	LatencyRequests   int     `json:"latency_requests"`
	SubmitP999Ms      float64 `json:"submit_p999_ms"`
	SubmitMaxMs       float64 `json:"submit_max_ms"`
	// Bare enqueues paced at the same rate as the submits.
	AsynqEnqueueP50Ms float64 `json:"asynq_enqueue_p50_ms"`
	AsynqEnqueueP99Ms float64 `json:"asynq_enqueue_p99_ms"`
	DownloadRecords   int64   `json:"download_records"`
	// The accounts of the refresh sweep, and how long its one Sweep took.
	RefreshAccounts int     `json:"refresh_accounts"`
	RefreshSeconds  float64 `json:"refresh_s"`
	// The peak resident memory of each worker process once it had loaded
	// the dataset, before its download.
	DownloadLoadedRSSMB1M  float64 `json:"download_loaded_rss_mb_1m"`
	DownloadLoadedRSSMB10k float64 `json:"download_loaded_rss_mb_10k"`
	// The most of each worker's resident memory, sampled every 50 ms
	// during its download, that was anonymous (RssAnon: heap, stacks),
	// not the dataset's index file mapped in.
	DownloadAnonRSSMB1M  float64 `json:"download_rss_anon_mb_1m"`
	DownloadAnonRSSMB10k float64 `json:"download_rss_anon_mb_10k"`
	DownloadMB           float64 `json:"download_mb"`
	DownloadSeconds      float64 `json:"download_s"`

	// Why the S3 figures are missing, when they are: --skip-s3, or no
	// versitygw. Empty when they were measured.
	S3Skipped         string  `json:"s3_skipped,omitempty"`
	S3DownloadRecords int64   `json:"s3_download_records"`
	S3DownloadMB      float64 `json:"s3_download_mb"`
	S3DownloadParts   int     `json:"s3_download_parts"`
	// The job's run, from the worker's start of it to its settlement, and
	// the bare upload of its files, one after the other.
	S3DownloadSeconds   float64 `json:"s3_download_s"`
	S3BareUploadSeconds float64 `json:"s3_bare_upload_s"`
	// The worker's resident memory (VmRSS) when the download was submitted,
	// its dataset loaded; its peak (VmHWM) from loading the dataset; and how
	// much the download added to the first (s3_download_rss_mb minus it).
	S3DownloadLoadedRSSMB     float64 `json:"s3_download_loaded_rss_mb"`
	S3DownloadLoadedPeakRSSMB float64 `json:"s3_download_loaded_peak_rss_mb"`
	S3DownloadRSSGrowthMB     float64 `json:"s3_download_rss_growth_mb"`
	// The most of the worker's sampled resident memory during the download
	// that was anonymous (RssAnon: heap, stacks); the rest of
	// s3_download_rss_mb is mostly the dataset's index file mapped in,
	// pages the kernel can drop and read again.
	S3DownloadAnonRSSMB float64 `json:"s3_download_rss_anon_mb"`
	// CPU seconds: of the worker process during the download and of this
	// process during the bare upload, and of versitygw during each.
	S3DownloadWorkerCPUS   float64 `json:"s3_download_worker_cpu_s"`
	S3DownloadServerCPUS   float64 `json:"s3_download_server_cpu_s"`
	S3BareUploadCPUS       float64 `json:"s3_bare_upload_cpu_s"`
	S3BareUploadServerCPUS float64 `json:"s3_bare_upload_server_cpu_s"`

	// CPU time per submit, enqueue, job or task, in microseconds: of this
	// process (clients, and the API and workers run in process) and of the
	// Redis server.
	SubmitCPUUS             float64 `json:"submit_cpu_us"`
	SubmitRedisCPUUS        float64 `json:"submit_redis_cpu_us"`
	AsynqEnqueueCPUUS       float64 `json:"asynq_enqueue_cpu_us"`
	AsynqEnqueueRedisCPUUS  float64 `json:"asynq_enqueue_redis_cpu_us"`
	E2ECPUUS                float64 `json:"e2e_cpu_us"`
	E2ERedisCPUUS           float64 `json:"e2e_redis_cpu_us"`
	AsynqE2ECPUUS           float64 `json:"asynq_e2e_cpu_us"`
	AsynqE2ERedisCPUUS      float64 `json:"asynq_e2e_redis_cpu_us"`
	UngatedSubmitCPUUS      float64 `json:"ungated_submit_cpu_us"`
	UngatedSubmitRedisCPUUS float64 `json:"ungated_submit_redis_cpu_us"`
	UngatedE2ECPUUS         float64 `json:"ungated_e2e_cpu_us"`
}

// WriteJSON writes the figures as one JSON object, on one line.
func (f Figures) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(f)
}

// WriteText writes one "name: value" line per figure, named as in JSON,
// leaving out empty strings as JSON does.
func (f Figures) WriteText(w io.Writer) error {
	v := reflect.ValueOf(f)
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if v.Field(i).Kind() == reflect.String && v.Field(i).String() == "" {
			continue
		}
		val := fmt.Sprint(v.Field(i).Interface())
		if v.Field(i).Kind() == reflect.Float64 {
			val = strconv.FormatFloat(v.Field(i).Float(), 'f', -1, 64) // never 1.2e+06
		}
		if _, err := fmt.Fprintf(w, "%s: %s\n", name, val); err != nil {
			return err
		}
	}
	return nil
}

// Ratio is a/b to two decimals, 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return Round(a/b, 2)
}

// Round rounds x to digits decimals.
func Round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}
