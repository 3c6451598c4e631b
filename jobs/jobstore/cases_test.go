package jobstore_test

import "testing"

// cases is the suite every target runs.
var cases = map[string]func(t *testing.T, h *harness){
	"CreateGetItems":      testCreateGetItems,
	"OutboxEvents":        testOutboxEvents,
	"CreateDefaults":      testCreateDefaults,
	"KeyLayout":           testKeyLayout,
	"OtherAccount":        testOtherAccount,
	"Progress":            testProgress,
	"UpdateTransitions":   testUpdateTransitions,
	"UpdateRefusals":      testUpdateRefusals,
	"RaceOneWinner":       testRaceOneWinner,
	"RaceNoLostUpdate":    testRaceNoLostUpdate,
	"TTLOnEnd":            testTTLOnEnd,
	"TTLKeptOnReupdate":   testTTLKeptOnReupdate,
	"ExpiredSkipped":      testExpiredSkipped,
	"ListPaging":          testListPaging,
	"ListFilters":         testListFilters,
	"ListLimits":          testListLimits,
	"ListEmpty":           testListEmpty,
	"ListStableUnderNews": testListStableUnderNews,
	"ListProgress":        testListProgress,
	"BadCursors":          testBadCursors,
	"BadIDs":              testBadIDs,
	"Accounts":            testAccounts,
	"AccountsByID":        testAccountsByID,
	"ResultsIndex":        testResultsIndex,
	"ActiveIndex":         testActiveIndex,
	"ListOmitsRecords":    testListOmitsRecords,
	"RecordsOfOldJobs":    testRecordsOfOldJobs,
}
