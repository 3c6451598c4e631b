// Package client is the Go client of the creditrun HTTP API, for customers
// who submit jobs and fetch their results, for finance who work the overage
// holds, and for admins who create accounts and keys. It uses the standard
// library only.
//
// A Client holds the API's base URL and one API key:
//
//	c, err := client.New("https://creditrun.example.com", os.Getenv("CREDITRUN_KEY"))
//	sub, err := c.Download(ctx, client.DownloadRequest{DataType: "people", Query: "state:CA", NumRecords: 5000})
//	job, err := c.WaitJob(ctx, sub.Job.ID)
//	files, err := c.DownloadResults(ctx, job.ID, "out")
//
// # Errors
//
// An answer that is not a success is an *Error with the API's status, code,
// message, details and request id. A 402 insufficient_credits tells what
// was needed (Error.Required) and what could have been reserved
// (Error.Available) in which pool (Error.Pool); a 402 overage_unpaid names
// the hold to pay (Error.HoldID, Error.AmountDueCents).
//
//	if e, ok := errors.AsType[*client.Error](err); ok && e.Code == client.CodeInsufficientCredits {
//		fmt.Printf("need %d credits, %d available\n", e.Required(), e.Available())
//	}
//
// # Retries and idempotency
//
// Every POST carries an Idempotency-Key: a random one per call unless the
// request's IdempotencyKey field names one. The client sends the same key
// on each of its retries, so the API runs the call at most once and a
// retried submit never reserves credits twice; naming a key of your own
// (an order number) extends that across processes and restarts. The
// client retries 429 rate_limited and 503 unavailable answers, waiting
// what Retry-After says (else a backoff with jitter), a bounded number of
// times (RetryPolicy); it retries a GET or a POST after a transport
// failure too, and never any other 4xx.
//
// # Waiting and results
//
// WaitJob polls a job until it has ended, with a growing interval and an
// optional progress callback. DownloadResults streams each result file of
// a job to a directory under its own name (1.csv, 2.csv, …), checks its
// size, and resumes a fetch cut mid-way with a Range request.
package client
