package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/creditrun/creditrun/client"
)

// Example submits a download, waits for it and writes its result files to
// a directory.
func Example() {
	ctx := context.Background()
	c, err := client.New(os.Getenv("CREDITRUN_URL"), os.Getenv("CREDITRUN_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	sub, err := c.Download(ctx, client.DownloadRequest{DataType: "people", Query: "state:CA", NumRecords: 1000})
	if e, ok := errors.AsType[*client.Error](err); ok && e.Code == client.CodeInsufficientCredits {
		log.Fatalf("not enough credits in %s: %d needed, %d available", e.Pool(), e.Required(), e.Available())
	} else if err != nil {
		log.Fatal(err)
	}
	job, err := c.WaitJob(ctx, sub.Job.ID, client.WithProgress(func(j *client.Job) {
		fmt.Printf("%s: %d of %d\n", j.Status, j.Progress.Done, j.Progress.Total)
	}))
	if err != nil {
		log.Fatal(err)
	}
	if job.Status != client.StatusSucceeded {
		log.Fatalf("job %s %s: %s", job.ID, job.Status, job.Error)
	}
	files, err := c.DownloadResults(ctx, job.ID, "results")
	if e, ok := errors.AsType[*client.Error](err); ok && e.Code == client.CodeOverageUnpaid {
		log.Fatalf("results held until hold %s is paid (%d cents)", e.HoldID(), e.AmountDueCents())
	} else if err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		fmt.Println(f.Path, f.Result.Records, "records")
	}
}
