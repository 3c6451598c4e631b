package dataset

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/creditrun/creditrun/source"
)

// A dataset's files define its data types: an extra vehicles.jsonl offers
// vehicles, searchable and matchable by its own fields, next to the sample's.
func TestDataTypesFromFiles(t *testing.T) {
	dir := writeDataset(t, map[string]string{
		"people.jsonl":   `{"id":"p1","name":"Ann"}`,
		"products.jsonl": `{"id":"x1","name":"Lamp"}`,
		"vehicles.jsonl": `{"id":"v1","make":"Volvo","model":"V70","year":2004,"engine":{"fuel":"diesel"}}` + "\n" +
			`{"id":"v2","make":"Saab","model":"900","year":1991,"engine":{"fuel":"petrol"}}` + "\n",
		"notes.txt":       "not a data type",
		"Bad Name.jsonl":  `{"id":"z"}`,
		"alpacas.jsonl":   `{"id":"a1","name":"Rosa"}`,
		"products.jsonl~": "a backup, not a data type",
	})
	names, err := DataTypesIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"people", "products", "alpacas", "vehicles"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("DataTypesIn (-want +got):\n%s", diff)
	}
	d, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if diff := cmp.Diff(want, d.DataTypes()); diff != "" {
		t.Errorf("DataTypes (-want +got):\n%s", diff)
	}
	if _, got := searchIDs(t, d, "vehicles", "make:volvo OR engine.fuel:petrol", 10); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("search of vehicles: %v, want [v1 v2]", got)
	}
	if _, got := searchIDs(t, d, "vehicles", "year:[2000 TO *]", 10); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("range over vehicles' year: %v, want [v1]", got)
	}
	cols, err := d.Fields("vehicles")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"id", "engine.fuel", "make", "model", "year"}, cols); diff != "" {
		t.Errorf("Fields (-want +got):\n%s", diff)
	}

	_, err = d.Search(t.Context(), "cars", "", 1)
	if !errors.Is(err, source.ErrUnknownDataType) {
		t.Fatalf("search of cars: %v, want ErrUnknownDataType", err)
	}
	if msg := `unknown data type "cars": the source has alpacas, people, products, vehicles`; err.Error() != msg {
		t.Errorf("search of cars: %q, want %q", err, msg)
	}
}

func TestDataTypesInNone(t *testing.T) {
	for name, dir := range map[string]string{
		"empty":   writeDataset(t, map[string]string{"readme.txt": "x"}),
		"missing": filepath.Join(t.TempDir(), "nowhere"),
	} {
		if _, err := DataTypesIn(dir); !errors.Is(err, ErrNoFiles) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: DataTypesIn: %v, want ErrNoFiles naming the directory", name, err)
		}
	}
}
