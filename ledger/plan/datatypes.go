package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrMissingDataType is wrapped by the errors of CheckDataTypes.
var ErrMissingDataType = errors.New("not a data type of the dataset")

// CheckDataTypes checks that every data type the plans name is one of
// offered, the data types of the dataset the catalog serves. It returns
// nil, or one *FieldError per plan and data type missing, joined, each
// wrapping ErrMissingDataType and listing the data types offered, sorted:
//
//	plan "cars-1k": data_types: not a data type of the dataset: "cars" (it has businesses, people, products, properties)
func (c *Catalog) CheckDataTypes(offered []string) error {
	has := slices.Clone(offered)
	slices.Sort(has)
	var errs []error
	for _, id := range c.ids {
		for _, dt := range c.plans[id].DataTypes {
			if !slices.Contains(has, string(dt)) {
				errs = append(errs, &FieldError{Plan: id, Field: "data_types",
					Err: fmt.Errorf("%w: %q (it has %s)", ErrMissingDataType, dt, strings.Join(has, ", "))})
			}
		}
	}
	return errors.Join(errs...)
}

// DataTypes returns every data type the plans name, sorted.
func (c *Catalog) DataTypes() []string {
	var out []string
	for _, id := range c.ids {
		for _, dt := range c.plans[id].DataTypes {
			if !slices.Contains(out, string(dt)) {
				out = append(out, string(dt))
			}
		}
	}
	slices.Sort(out)
	return out
}
