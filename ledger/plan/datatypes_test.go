package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const vehiclesYAML = `plans:
  vehicles-100:
    pool: vehicles
    data_types: [vehicles]
    operations: [search, download]
    credits: 100
    refresh: "@monthly"
  people-and-cars:
    pool: mixed
    data_types: [people, cars]
    operations: [search]
    credits: 10
    refresh: "@monthly"
`

// A plans file for a dataset of other data types parses against those, and
// with nil against any well-formed name; Parse keeps the sample's.
func TestParseForDataTypes(t *testing.T) {
	if _, err := Parse([]byte(vehiclesYAML)); err == nil || !strings.Contains(err.Error(), `unknown data type "vehicles" (want people, properties, businesses or products)`) {
		t.Errorf("Parse: %v, want vehicles refused as not a sample data type", err)
	}
	_, err := ParseFor([]byte(vehiclesYAML), DataTypesOf([]string{"people", "vehicles"}))
	if want := `plan "people-and-cars": data_types: unknown data type "cars" (want people or vehicles)`; err == nil || err.Error() != want {
		t.Errorf("ParseFor: %v, want %q", err, want)
	}
	c, err := ParseFor([]byte(vehiclesYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Plan("vehicles-100")
	if !slices.Equal(p.DataTypes, []DataType{"vehicles"}) || !p.Covers("vehicles", OpSearch) {
		t.Errorf("vehicles-100: %+v", p)
	}
	if _, err := ParseFor([]byte(strings.Replace(vehiclesYAML, "[people, cars]", "[People]", 1)), nil); err == nil ||
		!strings.Contains(err.Error(), `data_types: "People" must match [a-z0-9_-]{1,64}`) {
		t.Errorf("ParseFor(nil) of a malformed data type: %v", err)
	}
}

// CheckDataTypes names every plan and data type the dataset lacks, and lists
// what it has.
func TestCheckDataTypes(t *testing.T) {
	c, err := ParseFor([]byte(vehiclesYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckDataTypes([]string{"vehicles", "people", "cars"}); err != nil {
		t.Errorf("CheckDataTypes of a dataset with every type: %v", err)
	}
	err = c.CheckDataTypes([]string{"people", "businesses"})
	want := `plan "people-and-cars": data_types: not a data type of the dataset: "cars" (it has businesses, people)
plan "vehicles-100": data_types: not a data type of the dataset: "vehicles" (it has businesses, people)`
	if err == nil || err.Error() != want || !errors.Is(err, ErrMissingDataType) {
		t.Errorf("CheckDataTypes:\n%v\nwant:\n%s", err, want)
	}
	if got := c.DataTypes(); !slices.Equal(got, []string{"cars", "people", "vehicles"}) {
		t.Errorf("DataTypes: %v, want [cars people vehicles]", got)
	}
	if err := Builtin().CheckDataTypes([]string{"products", "businesses", "people", "properties"}); err != nil {
		t.Errorf("the built-in catalog against the sample: %v", err)
	}
}
