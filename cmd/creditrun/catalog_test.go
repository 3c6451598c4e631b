package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creditrun/creditrun/internal/redisserver"
)

const vehiclePlans = `plans:
  vehicles-100:
    pool: vehicles
    data_types: [vehicles]
    operations: [search, download, enrichment]
    credits: 100
    refresh: "@monthly"
`

const carPlans = vehiclePlans + `  cars-1k:
    pool: cars
    data_types: [cars, people]
    operations: [search]
    credits: 1000
    refresh: "@monthly"
`

// writeFiles writes files into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// The data types come from the dataset, and the plans must name only those;
// without a dataset they are the plans'.
func TestLoadCatalogDataTypes(t *testing.T) {
	ds := writeFiles(t, map[string]string{"people.jsonl": `{"id":"p1"}`, "vehicles.jsonl": `{"id":"v1","make":"Volvo"}`})
	plans := writeFiles(t, map[string]string{"vehicles.yaml": vehiclePlans, "cars.yaml": carPlans})

	c, types, err := loadCatalog(filepath.Join(plans, "vehicles.yaml"), ds)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(types, []string{"people", "vehicles"}) || c.Len() != 1 {
		t.Errorf("data types %v, %d plans; want [people vehicles] and 1", types, c.Len())
	}

	_, _, err = loadCatalog(filepath.Join(plans, "cars.yaml"), ds)
	want := "the plans file " + filepath.Join(plans, "cars.yaml") + " names data types the dataset " + ds + " lacks:\n" +
		`plan "cars-1k": data_types: not a data type of the dataset: "cars" (it has people, vehicles)`
	if err == nil || err.Error() != want {
		t.Errorf("plans naming cars:\n%v\nwant:\n%s", err, want)
	}

	_, _, err = loadCatalog("", ds)
	if err == nil || !strings.Contains(err.Error(), "the built-in plans catalog (set CREDITRUN_PLANS") ||
		!strings.Contains(err.Error(), `"businesses" (it has people, vehicles)`) {
		t.Errorf("built-in plans on a dataset of people and vehicles: %v", err)
	}

	_, types, err = loadCatalog(filepath.Join(plans, "cars.yaml"), "")
	if err != nil || !slices.Equal(types, []string{"cars", "people", "vehicles"}) {
		t.Errorf("no dataset: %v, %v; want the plans' data types", types, err)
	}
	if _, types, err = loadCatalog("", ""); err != nil || !slices.Equal(types, []string{"businesses", "people", "products", "properties"}) {
		t.Errorf("no dataset, built-in plans: %v, %v", types, err)
	}
}

// A process whose plans name a data type its dataset lacks does not start,
// and says which plan, which data type, and what the dataset has.
func TestStartRefusesPlanForMissingDataType(t *testing.T) {
	rs := redisserver.T(t)
	ds := writeFiles(t, map[string]string{"people.jsonl": `{"id":"p1"}`, "vehicles.jsonl": `{"id":"v1"}`})
	plans := writeFiles(t, map[string]string{"plans.yaml": carPlans})
	cfg := config{
		HTTPAddr: freeAddr(t), RedisURL: rs.URL(), AdminKey: "cr_admin_" + strings.Repeat("k", 40), Dataset: ds,
		DataDir: t.TempDir(), S3Region: "us-east-1", WorkerConcurrency: 2, ResultTTL: 168 * time.Hour,
		LinkTTL: 15 * time.Minute, PartRecords: 1_000_000, PlansFile: filepath.Join(plans, "plans.yaml"),
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	err := serve(t.Context(), cfg, cfg.RedisURL, roles{api: true, worker: true}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `plan "cars-1k": data_types: not a data type of the dataset: "cars" (it has people, vehicles)`) {
		t.Fatalf("serve: %v, want a refusal naming the plan and the data type", err)
	}
}
