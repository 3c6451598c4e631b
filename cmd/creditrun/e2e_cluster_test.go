//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/creditrun/creditrun/internal/redisserver"
	"github.com/creditrun/creditrun/internal/s3server"
	"github.com/creditrun/creditrun/storage"
	"github.com/creditrun/creditrun/worker"
)

// clusterBucket is the bucket of the loopback cluster's result files.
const clusterBucket = "results"

// cluster is the topology of docker-compose.yml without Docker: one
// redis-server, one versitygw, and creditrun processes started on them.
type cluster struct {
	*stack
	gw  *s3server.Server
	env []string
}

// startCluster starts a redis-server and a versitygw, then `creditrun api`
// and workers `creditrun worker` processes, each on its own free port and
// data dir, configured only through the environment, as in production.
func startCluster(t *testing.T, datasetDir string, workers int, extraEnv ...string) (*cluster, []*proc) {
	t.Helper()
	srv := redisserver.T(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rdb.Close() })
	gw := s3server.T(t)
	c := &cluster{
		stack: &stack{admin: "cr_admin_cluster_test", rdb: rdb, redis: srv, dataset: datasetDir, userKeys: map[string]bool{}, rateOn: true},
		gw:    gw,
	}
	c.env = append([]string{
		"CREDITRUN_REDIS_URL=" + srv.URL(),
		"CREDITRUN_S3_BUCKET=" + clusterBucket, "CREDITRUN_S3_ENDPOINT=" + gw.Endpoint(), "CREDITRUN_S3_REGION=" + gw.Region(),
		"AWS_ACCESS_KEY_ID=" + gw.AccessKey(), "AWS_SECRET_ACCESS_KEY=" + gw.SecretKey(), "AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true",
		"CREDITRUN_DATASET=" + datasetDir, "CREDITRUN_ADMIN_KEY=" + c.admin,
		"CREDITRUN_RATE_LIMIT=100000", "CREDITRUN_WORKER_CONCURRENCY=4",
	}, extraEnv...)
	apiAddr := freeAddr(t)
	c.base = "http://" + apiAddr
	startProc(t, "api", apiAddr, append(c.env, "CREDITRUN_DATA_DIR="+t.TempDir())...)
	var ws []*proc
	for range workers {
		ws = append(ws, startProc(t, "worker", freeAddr(t), append(c.env, "CREDITRUN_DATA_DIR="+t.TempDir())...))
	}
	return c, ws
}

// bucket returns a client of the cluster's bucket, with the root keys.
func (c *cluster) bucket(t *testing.T) *storage.S3 {
	t.Helper()
	b, err := storage.NewS3(t.Context(), storage.S3Config{
		Bucket: clusterBucket, Endpoint: c.gw.Endpoint(), Region: c.gw.Region(),
		Credentials: credentials.NewStaticCredentialsProvider(c.gw.AccessKey(), c.gw.SecretKey(), ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkTags checks that a job has result objects and that each carries
// the hold tag want.
func checkTags(t *testing.T, b *storage.S3, account, job, want string) {
	t.Helper()
	keys := objectsOf(t, b, account, job)
	if len(keys) == 0 {
		t.Errorf("job %s has no objects in the bucket", job)
	}
	for _, k := range keys {
		if tags, err := b.Tags(t.Context(), k); err != nil || tags[storage.HoldTag] != want {
			t.Errorf("tags of %s = %v, %v; want %s=%s", k, tags, err, storage.HoldTag, want)
		}
	}
}

// clusterJob is one job the cluster test submits.
type clusterJob struct {
	account int
	path    string
	body    map[string]any
	// none is set for a query that matches nothing.
	none bool
	// out is filled once it is accepted.
	job  jobJSON
	meta metaJSON
}

// countRecords counts the records of a result file in format f: CSV rows
// after the header, the elements of a JSON array, the lines of JSONL. For
// an enrichment it also counts the rows whose matched is true.
func countRecords(t *testing.T, f string, data []byte) (records, matched int64) {
	t.Helper()
	switch f {
	case "csv":
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord = -1
		rows, err := r.ReadAll()
		if err != nil {
			t.Fatalf("csv result: %v", err)
		}
		if len(rows) == 0 {
			return 0, 0
		}
		col := -1
		for i, name := range rows[0] {
			if name == "matched" {
				col = i
			}
		}
		for _, row := range rows[1:] {
			if col >= 0 && col < len(row) && row[col] == "true" {
				matched++
			}
		}
		return int64(len(rows) - 1), matched
	case "json":
		var rows []map[string]any
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatalf("json result: %v", err)
		}
		for _, row := range rows {
			if row["matched"] == true {
				matched++
			}
		}
		return int64(len(rows)), matched
	case "jsonl":
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var row map[string]any
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("jsonl result line %q: %v", sc.Text(), err)
			}
			records++
			if row["matched"] == true {
				matched++
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		return records, matched
	}
	t.Fatalf("unknown format %q", f)
	return 0, 0
}

// enrichItems returns n enrichment items with tracking ids t1 … tn, matching
// the records prefix_from … by id, except every missEvery-th item (none when
// 0), which names no record.
func enrichItems(prefix string, from, n, missEvery int) []map[string]any {
	out := items(prefix, from, n)
	for i := range out {
		if missEvery > 0 && (i+1)%missEvery == 0 {
			out[i]["id"] = prefix + "_nope"
		}
	}
	return out
}

// TestE2EClusterTopology runs the topology of docker-compose.yml as separate
// processes on loopback: `creditrun api`, two `creditrun worker`, a
// redis-server and versitygw. 200 mixed jobs of four accounts, some of them
// partial and some past the prepaid balance, go in over HTTP at once. Every
// job ends; each settles exactly once and each account's journal replays to
// its pools; the presigned links of every download and enrichment fetch
// files whose records add up to what the job cost.
func TestE2EClusterTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five processes and 200 jobs")
	}
	t.Parallel()
	c, _ := startCluster(t, sharedDataset(t), 2)

	// Two workers serve the jobs queue, once each has written its first
	// heartbeat. (Each worker also runs a server of the webhooks queue.)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: c.redis.Addr()})
	t.Cleanup(func() { inspector.Close() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(pollEvery) {
		servers, err := inspector.Servers()
		jobServers := 0
		for _, s := range servers {
			if _, ok := s.Queues[worker.QueueName]; ok {
				jobServers++
			}
		}
		if err == nil && jobServers == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("asynq sees %d servers of the %s queue (%v), want 2", jobServers, worker.QueueName, err)
		}
	}

	// Four accounts:
	//   0 people-1k-99: 40 jobs of 27 credits, 1080 in all: 80 past the
	//     prepaid 1000, within the overage limit of 100, so every submit is
	//     accepted and the overage lands on holds.
	//   1 properties-10k-349: 60 jobs of 1–150 credits, a third matching
	//     nothing, enrichments with misses.
	//   2 enhance-5k (enrichment charged per item submitted, partial): 95
	//     credits for 10 enrichments of 10 items, so exactly one is partial.
	//   3 local-2k-49 (businesses, reject) and products-25k-249: 90 jobs.
	plans := [][]string{{"people-1k-99"}, {"properties-10k-349"}, {"enhance-5k"}, {"local-2k-49", "products-25k-249"}}
	ids := make([]string, len(plans))
	keys := make([]string, len(plans))
	for i, p := range plans {
		ids[i], keys[i] = c.createAccount(t, p...)
	}
	c.setAvailable(t, ids[2], keys[2], "enhancement", 95)

	// A download past a reject plan's balance reserves nothing.
	e := c.call(t, "POST", "/v1/downloads", keys[3], map[string]any{"data_type": "businesses", "query": "*", "num_records": 2001}).
		errorBody(t, http.StatusPaymentRequired)
	if e.Error != "insufficient_credits" || e.Message != "Not enough credits. Required: 2001, Available: 2000" {
		t.Fatalf("402 %+v", e)
	}

	formats := []string{"csv", "json", "jsonl"}
	var specs []*clusterJob
	add := func(account int, path string, body map[string]any, none bool) {
		specs = append(specs, &clusterJob{account: account, path: path, body: body, none: none})
	}
	job := func(account, i int, dataType, prefix string, n int, none bool, missEvery int) {
		q := "*"
		if none {
			q = "id:nothing_matches"
		}
		f := formats[i%3]
		switch i % 4 {
		case 0:
			add(account, "/v1/searches", map[string]any{"data_type": dataType, "query": q, "num_records": n}, none)
		case 1, 2:
			add(account, "/v1/downloads", map[string]any{"data_type": dataType, "query": q, "num_records": n, "format": f}, none)
		case 3:
			add(account, "/v1/enrichments", map[string]any{"data_type": dataType, "match_on": []string{"id"},
				"items": enrichItems(prefix, 1+i, n, missEvery), "format": f}, false)
		}
	}
	for i := range 40 {
		job(0, i, "people", "per", 27, false, 0)
	}
	for i := range 60 {
		job(1, i, "properties", "prop", 1+(i*37)%150, i%3 == 2, 4)
	}
	types := [][2]string{{"people", "per"}, {"businesses", "biz"}, {"products", "prod"}, {"properties", "prop"}}
	for i := range 10 {
		dt := types[i%4]
		add(2, "/v1/enrichments", map[string]any{"data_type": dt[0], "match_on": []string{"id"},
			"items": enrichItems(dt[1], 10*i+1, 10, 3), "format": formats[i%3]}, false)
	}
	for i := range 90 {
		if i%2 == 0 {
			job(3, i, "businesses", "biz", 1+(i*13)%40, i%10 == 4, 5)
		} else {
			job(3, i, "products", "prod", 1+(i*7)%60, false, 3)
		}
	}
	if len(specs) != 200 {
		t.Fatalf("%d jobs, want 200", len(specs))
	}

	// Submit them all at once, eight at a time.
	work := make(chan *clusterJob)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for sj := range work {
				key := keys[sj.account]
				r, err := c.do("POST", sj.path, key, sj.body)
				if err != nil {
					t.Error(err)
					continue
				}
				c.checkHeaders(t, "POST", sj.path, key, r)
				var out struct {
					Job  jobJSON  `json:"job"`
					Meta metaJSON `json:"meta"`
				}
				if r.status != http.StatusAccepted || json.Unmarshal(r.body, &out) != nil || out.Job.ID == "" {
					t.Errorf("POST %s for account %d: %s", sj.path, sj.account, r)
					continue
				}
				sj.job, sj.meta = out.Job, out.Meta
			}
		})
	}
	for _, sj := range specs {
		work <- sj
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// Every job ends, and succeeds.
	for _, sj := range specs {
		sj.job, _ = c.waitJob(t, keys[sj.account], sj.job.ID, 2*time.Minute, "ended", func(j jobJSON) bool { return ended(j.Status) })
		if sj.job.Status != "succeeded" {
			t.Fatalf("job %s (%s) ended %s: %s", sj.job.ID, sj.path, sj.job.Status, sj.job.Error)
		}
	}

	// Account 0 went 80 credits past its prepaid balance, on holds that
	// hide the results until finance is paid.
	var overage int64
	var held []*clusterJob
	for _, sj := range specs {
		if sj.account != 0 {
			continue
		}
		overage += sj.job.Overage
		if sj.job.Overage > 0 {
			if sj.job.Hold == nil || sj.job.Hold.Status != "unpaid" || sj.job.Hold.OverageCredits != sj.job.Overage ||
				sj.job.Results != nil || sj.job.Records != nil {
				t.Errorf("job %s with overage %d: hold %+v, results %v, records %s", sj.job.ID, sj.job.Overage, sj.job.Hold, sj.job.Results, sj.job.Records)
			}
			held = append(held, sj)
		} else if sj.job.Hold != nil {
			t.Errorf("job %s without overage has a hold %+v", sj.job.ID, sj.job.Hold)
		}
	}
	if p := c.pool(t, keys[0], "people"); overage != 80 || p.OverageOutstanding != 80 || p.Used != 1000 || p.Available != 0 {
		t.Fatalf("account 0: overage of its jobs %d, pool %+v; want 80 outstanding and 1000 used", overage, p)
	}
	// Their files are tagged unpaid until the hold is paid, then paid; any
	// other job's files are tagged none.
	b := c.bucket(t)
	for _, sj := range held {
		if sj.job.Kind != "search" {
			checkTags(t, b, ids[0], sj.job.ID, storage.HoldUnpaid)
		}
	}
	for _, sj := range held {
		c.must(t, http.StatusOK, "POST", "/v1/holds/"+sj.job.Hold.ID+"/pay", c.admin, map[string]any{"payment_ref": "inv_" + sj.job.ID})
		sj.job, _ = c.job(t, keys[0], sj.job.ID)
		if sj.job.Hold == nil || sj.job.Hold.Status != "paid" {
			t.Errorf("job %s after paying: hold %+v", sj.job.ID, sj.job.Hold)
		}
		if sj.job.Kind != "search" {
			checkTags(t, b, ids[0], sj.job.ID, storage.HoldPaid)
		}
	}
	if p := c.pool(t, keys[0], "people"); p.OverageOutstanding != 0 {
		t.Errorf("account 0 after paying every hold: %+v", p)
	}

	// Account 2 ran exactly one enrichment on what was left.
	var partial int
	var cost2 int64
	for _, sj := range specs {
		if sj.account != 2 {
			continue
		}
		cost2 += sj.job.TotalCost
		if sj.meta.Partial {
			partial++
			if sj.meta.Processed != 5 || sj.job.NumRecords != 5 || sj.job.TotalCost != 5 {
				t.Errorf("the partial enrichment %s: meta %+v, job %+v", sj.job.ID, sj.meta, sj.job)
			}
		}
	}
	if partial != 1 || cost2 != 95 {
		t.Errorf("account 2: %d partial enrichments, %d credits charged; want 1 and 95", partial, cost2)
	}

	// What each job delivered is what it cost.
	for _, sj := range specs {
		j := sj.job
		if j.TotalCost+j.CreditsReleased != j.CreditsReserved || j.TotalCost > j.NumRecords {
			t.Errorf("job %s: reserved %d, cost %d, released %d, num_records %d", j.ID, j.CreditsReserved, j.TotalCost, j.CreditsReleased, j.NumRecords)
		}
		if sj.none && j.TotalCost != 0 {
			t.Errorf("job %s matched nothing and cost %d", j.ID, j.TotalCost)
		}
		if !sj.none && j.Kind != "enrichment" && j.TotalCost != j.NumRecords {
			t.Errorf("job %s (%s *) cost %d of %d", j.ID, j.Kind, j.TotalCost, j.NumRecords)
		}
		switch j.Kind {
		case "search":
			var recs []map[string]any
			if err := json.Unmarshal(j.Records, &recs); err != nil || recs == nil || int64(len(recs)) != j.TotalCost {
				t.Errorf("search %s: %d records (%v), cost %d", j.ID, len(recs), err, j.TotalCost)
			}
		case "download", "enrichment":
			if len(j.Results) == 0 {
				t.Errorf("%s %s has no results", j.Kind, j.ID)
				continue
			}
			var records, matched int64
			for _, f := range j.Results {
				if !strings.Contains(f.URL, "/"+clusterBucket+"/results/") || !strings.Contains(f.URL, "X-Amz-Signature=") {
					t.Errorf("job %s: %q is not a presigned URL of the bucket", j.ID, f.URL)
				}
				data := fetch(t, f.URL)
				n, m := countRecords(t, f.Format, data)
				if n != f.Records || int64(len(data)) != f.Bytes {
					t.Errorf("job %s: the file holds %d records in %d bytes, results say %d in %d", j.ID, n, len(data), f.Records, f.Bytes)
				}
				records += n
				matched += m
			}
			if j.Overage == 0 {
				checkTags(t, b, ids[sj.account], j.ID, storage.HoldNone)
			}
			want := j.TotalCost
			if j.Kind == "enrichment" {
				// One row per processed item; the plans of accounts other than 2
				// charge the matched ones.
				want = j.NumRecords
				if sj.account != 2 && matched != j.TotalCost {
					t.Errorf("enrichment %s: %d rows matched, cost %d", j.ID, matched, j.TotalCost)
				}
			}
			if records != want {
				t.Errorf("%s %s: %d records in its files, want %d (cost %d)", j.Kind, j.ID, records, want, j.TotalCost)
			}
		}
	}

	// Every reservation settled exactly once, and every journal replays to
	// its pools.
	for i := range ids {
		c.checkJournal(t, ids[i], keys[i])
	}
}
