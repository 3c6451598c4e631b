package api_test

import (
	"net/http"
	"testing"
)

// An API given the dataset's data types refuses a submit for another with
// 400 on data_type, listing those it offers, and reserves nothing; one it
// offers goes through as before.
func TestSubmitDataTypeNotInDataset(t *testing.T) {
	e := newEnv(t, func(c *apiConfig) { c.DataTypes = []string{"people", "properties", "businesses", "products"} })
	acct, key := e.account(t, "people-1k-99")
	before := e.available(t, acct, "people")
	for _, rq := range []req{
		{method: "POST", path: "/v1/searches", key: key, body: `{"data_type":"cars","query":"make:volvo","num_records":5}`},
		{method: "POST", path: "/v1/downloads", key: key, body: `{"data_type":"cars","num_records":5}`},
		{method: "POST", path: "/v1/enrichments", key: key, body: `{"data_type":"cars","match_on":["id"],"items":[{"id":"c1"}]}`},
	} {
		r := e.do(t, rq)
		d := r.error(t, http.StatusBadRequest, "invalid_request")
		want := `data_type "cars" is not one this dataset has: businesses, people, products, properties`
		if d["field"] != "data_type" || r.json(t)["message"] != want {
			t.Errorf("%s: %s, want field data_type and message %q", rq.path, r.body, want)
		}
	}
	if got := e.available(t, acct, "people"); got != before {
		t.Errorf("people available %d after refused submits, want %d", got, before)
	}
	e.checkInvariants(t, acct)
	e.submit(t, key, "/v1/searches", map[string]any{"data_type": "people", "query": "city:Austin", "num_records": 5})

	// A dataset of people alone: the plan covers businesses, the dataset
	// does not have them.
	e2 := newEnv(t, func(c *apiConfig) { c.DataTypes = []string{"people"} })
	_, key2 := e2.account(t, "enhance-5k")
	r := e2.do(t, req{method: "POST", path: "/v1/enrichments", key: key2, body: `{"data_type":"businesses","match_on":["name"],"items":[{"name":"x"}]}`})
	r.error(t, http.StatusBadRequest, "invalid_request")
	if want := `data_type "businesses" is not one this dataset has: people`; r.json(t)["message"] != want {
		t.Errorf("businesses on a people dataset: %s, want %q", r.body, want)
	}
}
