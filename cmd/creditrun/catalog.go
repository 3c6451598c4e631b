package main

import (
	"fmt"

	"github.com/creditrun/creditrun/ledger/plan"
	"github.com/creditrun/creditrun/source/dataset"
)

// loadCatalog loads the plans (the plans file, or the built-in catalog when
// there is none) and the data types that requests may name.
//
// With a dataset (CREDITRUN_DATASET, which workers and `creditrun dev`
// always have), the data types are the dataset's, read from its file names
// (dataset.DataTypesIn, no index is loaded), and every plan must name only
// those: a plan for a data type the dataset lacks fails the start with the
// plan, the data type and the data types the dataset has.
//
// Without one (the API or the scheduler of a cluster where only workers set
// CREDITRUN_DATASET) the process cannot know the dataset: a plans file's
// data types need only be well-formed names, and the data types requests
// may name are those the plans name. The API refuses any other with 400,
// listing them; the plans themselves are checked against the dataset by
// every worker, which does not start on a plan the dataset lacks, so a
// job for such a type is never run.
func loadCatalog(plansFile, datasetDir string) (*plan.Catalog, []string, error) {
	c := plan.Builtin()
	if plansFile != "" {
		var err error
		if c, err = plan.LoadFor(plansFile, nil); err != nil {
			return nil, nil, err
		}
	}
	if datasetDir == "" {
		return c, c.DataTypes(), nil
	}
	types, err := dataset.DataTypesIn(datasetDir)
	if err != nil {
		return nil, nil, fmt.Errorf("the dataset %s: %w", datasetDir, err)
	}
	if err := c.CheckDataTypes(types); err != nil {
		return nil, nil, fmt.Errorf("%s names data types the dataset %s lacks:\n%w", plansName(plansFile), datasetDir, err)
	}
	return c, types, nil
}

// plansName names the plans in a message: the plans file, or the built-in
// catalog.
func plansName(plansFile string) string {
	if plansFile == "" {
		return "the built-in plans catalog (set CREDITRUN_PLANS to a plans file for this dataset)"
	}
	return "the plans file " + plansFile
}
