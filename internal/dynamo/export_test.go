package dynamo

// SetQueryLimit caps the keys of one index Query page, so that a test's
// listing needs several DynamoDB pages whatever the item sizes.
func SetQueryLimit(s *RequestStore, n int) { s.queryLimit = n }

// ArchiveID is the id of the archive item of a request's pre-approval run.
var ArchiveID = archiveID
