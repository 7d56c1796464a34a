package gate

import (
	"context"
	"fmt"
	"math"
	"time"
)

// DefaultTimeframeDays is every policy's execution timeframe until an admin
// changes it.
const DefaultTimeframeDays = 30

// MaxTimeframeDays bounds a policy's execution timeframe.
const MaxTimeframeDays = 365

// PolicyKeys are the default policies, in the order they are listed.
var PolicyKeys = []string{"default_access_policy", "default_erasure_policy", "default_consent_policy", "default_update_policy"}

// Policy is one policy as the admin sees it. ExecutionTimeframe is in days;
// 0 is none (its requests get no due date).
type Policy struct {
	Key                string
	Name               string
	Action             string
	ExecutionTimeframe int
}

// PolicyStore keeps the policies' execution timeframes.
type PolicyStore interface {
	// Timeframes returns the timeframes an admin set, by policy key (0:
	// none); a policy absent from the map has DefaultTimeframeDays.
	Timeframes(ctx context.Context) (map[string]int, error)
	// SetTimeframe records policy key's timeframe (0: none).
	SetTimeframe(ctx context.Context, key string, days int, at time.Time) error
}

// PolicyChange is one item of a PATCH of policies: Days nil is null (no
// timeframe). Problem, when set, is why the item as sent cannot be read
// (a timeframe missing, or neither null nor a whole number).
type PolicyChange struct {
	Key     string
	Days    *int
	Problem string
}

// PolicyResult is the answer of a PATCH of policies.
type PolicyResult struct {
	Succeeded []Policy
	Failed    []Failure
}

// MsgTimeframeRange fails a policy item whose timeframe is out of range or not a whole number.
var MsgTimeframeRange = fmt.Sprintf("execution_timeframe must be a whole number of days from 1 to %d, or null", MaxTimeframeDays)

// PolicyCases are the policy use cases.
type PolicyCases struct {
	Store PolicyStore
	Now   func() time.Time
}

// List returns the four policies with their timeframes.
func (u *PolicyCases) List(ctx context.Context) ([]Policy, error) {
	set, err := u.Store.Timeframes(ctx)
	if err != nil {
		return nil, fmt.Errorf("read policies: %w", err)
	}
	out := make([]Policy, len(PolicyKeys))
	for i, k := range PolicyKeys {
		out[i] = policy(k, set)
	}
	return out, nil
}

func policy(key string, set map[string]int) Policy {
	days, ok := set[key]
	if !ok {
		days = DefaultTimeframeDays
	}
	return Policy{Key: key, Name: PolicyNames[key], Action: Policies[key], ExecutionTimeframe: days}
}

// Patch sets the timeframes of the policies named; a bad item fails alone.
func (u *PolicyCases) Patch(ctx context.Context, changes []PolicyChange) (PolicyResult, error) {
	if len(changes) == 0 || len(changes) > MaxBulk {
		return PolicyResult{}, Invalid(fmt.Sprintf("ensure this value has between 1 and %d items", MaxBulk), "value_error.list.size", "body")
	}
	res := PolicyResult{Succeeded: []Policy{}, Failed: []Failure{}}
	set := map[string]int{}
	for _, c := range changes {
		msg := c.Problem
		switch {
		case msg != "":
		case Policies[c.Key] == "":
			msg = fmt.Sprintf("Policy with key %s does not exist", c.Key)
		case c.Days != nil && (*c.Days < 1 || *c.Days > MaxTimeframeDays):
			msg = MsgTimeframeRange
		}
		if msg != "" {
			res.Failed = append(res.Failed, Failure{Message: msg, Data: map[string]any{"key": c.Key}})
			continue
		}
		days := 0
		if c.Days != nil {
			days = *c.Days
		}
		if err := u.Store.SetTimeframe(ctx, c.Key, days, u.Now().UTC()); err != nil {
			return res, fmt.Errorf("set policy %s: %w", c.Key, err)
		}
		set[c.Key] = days
		res.Succeeded = append(res.Succeeded, policy(c.Key, set))
	}
	return res, nil
}

// DaysLeft is the whole days from now to due, rounded down as Fides does: a
// request due in 23 h 59 min has 0 days left, one overdue by a minute -1.
func DaysLeft(due, now time.Time) int {
	return int(math.Floor(due.Sub(now).Hours() / 24))
}

// DueDate is when a request created at `at` under a timeframe of days is
// due; nil without a timeframe.
func DueDate(at time.Time, days int) *time.Time {
	if days <= 0 {
		return nil
	}
	d := at.Add(time.Duration(days) * 24 * time.Hour)
	return &d
}
