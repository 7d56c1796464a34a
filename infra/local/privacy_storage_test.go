package local_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
)

// scanAll reads every item of table (the local tables are small), only
// the attributes given if any.
func scanAll(t *testing.T, db *dynamodb.Client, table string, attrs ...string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	in := &dynamodb.ScanInput{TableName: &table}
	if len(attrs) > 0 {
		in.ExpressionAttributeNames = map[string]string{}
		var names []string
		for i, a := range attrs {
			name := fmt.Sprintf("#a%d", i)
			in.ExpressionAttributeNames[name] = a
			names = append(names, name)
		}
		in.ProjectionExpression = aws.String(strings.Join(names, ", "))
	}
	for {
		out, err := db.Scan(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// text is an attribute's value as text, whatever its type ("" for a list or map).
func text(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return string(v.Value)
	}
	return ""
}

// holds reports whether some attribute of item, nested ones included, holds value (without case).
func holds(av types.AttributeValue, value string) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			if holds(e, value) {
				return true
			}
		}
		return false
	case *types.AttributeValueMemberM:
		for _, e := range v.Value {
			if holds(e, value) {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(text(av)), strings.ToLower(value))
}

// TestIndexKeysHoldNoIdentityNorAHotValue: search by identity finds one
// person's requests, newest first, by email (without case), phone number or
// external id; no key of the requests table or of its indexes, in any item,
// holds an email, phone number or external id in clear (the indexes hold
// keyed hashes), although the items themselves hold them; and no partition
// key value of an index but the identity ones (the due-date listing's
// among them) is shared by a large part of its items: none is hot.
func TestIndexKeysHoldNoIdentityNorAHotValue(t *testing.T) {
	c := admin(t)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	tag := unique("ix")
	email, phone, ext := tag+"@Example.com", fmt.Sprintf("+1666%07d", time.Now().UnixNano()%10_000_000), tag+"-ext"
	var ids []string
	for i, item := range []map[string]any{
		{"identity": map[string]string{"email": email, "phone_number": phone}, "policy_key": "default_access_policy", "external_id": ext},
		{"identity": map[string]string{"email": strings.ToUpper(email)}, "policy_key": "default_erasure_policy"},
	} {
		if i > 0 {
			time.Sleep(2 * time.Millisecond) // newest first needs two creation times
		}
		var sub bulkOut
		c.must(200, "POST", "/privacy-request", []any{item}, &sub)
		if len(sub.Succeeded) != 1 {
			t.Fatalf("submit: %+v", sub)
		}
		ids = append(ids, sub.Succeeded[0].ID)
	}
	// Enough requests for a hot key to show, whatever ran before.
	var many []map[string]any
	for i := range 20 {
		many = append(many, map[string]any{"identity": map[string]string{"email": fmt.Sprintf("%s.%d@example.com", tag, i)}, "policy_key": "default_access_policy"})
	}
	c.must(200, "POST", "/privacy-request", many, nil)
	var page struct {
		Items []deadlineOut `json:"items"`
	}
	for q, want := range map[string][]string{strings.ToLower(email): {ids[1], ids[0]}, phone: {ids[0]}, ext: {ids[0]}} {
		c.must(200, "GET", "/privacy-request?identity="+url.QueryEscape(q), nil, &page)
		var got []string
		for _, r := range page.Items {
			got = append(got, r.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("identity %q: %v, want %v (newest first)", q, got, want)
		}
	}

	// With a due date bound too: both are due in 30 days.
	for days, want := range map[int]int{1: 0, 31: 2} {
		before := url.QueryEscape(time.Now().AddDate(0, 0, days).UTC().Format(time.RFC3339))
		c.must(200, "GET", "/privacy-request?identity="+url.QueryEscape(email)+"&due_before="+before, nil, &page)
		if len(page.Items) != want {
			t.Errorf("identity due within %d days: %d requests, want %d", days, len(page.Items), want)
		}
	}

	db := dynamodb.NewFromConfig(c.sys.AWS)
	table := c.sys.Stack.Resources["RequestsTable"].Ref
	desc, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{} // attribute -> the index it keys ("" for the table)
	for _, k := range desc.Table.KeySchema {
		keys[*k.AttributeName] = "table"
	}
	for _, ix := range desc.Table.GlobalSecondaryIndexes {
		for _, k := range ix.KeySchema {
			keys[*k.AttributeName] = *ix.IndexName
		}
	}
	if len(desc.Table.GlobalSecondaryIndexes) < 3 {
		t.Fatalf("the requests table has %d indexes: where are the identity ones?", len(desc.Table.GlobalSecondaryIndexes))
	}
	partitions := map[string]string{} // index -> its partition key attribute
	for _, ix := range desc.Table.GlobalSecondaryIndexes {
		for _, k := range ix.KeySchema {
			if k.KeyType == types.KeyTypeHash {
				partitions[*ix.IndexName] = *k.AttributeName
			}
		}
	}
	if _, ok := partitions["deadline"]; !ok {
		t.Errorf("no deadline index among %v", partitions)
	}
	perValue := map[string]map[string]int{} // index -> partition key value -> items
	var keyAttrs []string
	for attr := range keys {
		keyAttrs = append(keyAttrs, attr)
	}
	mine := 0 // items of this test's requests with an identity hash in a key
	for _, item := range scanAll(t, db, table, keyAttrs...) {
		for index, attr := range partitions {
			if av, ok := item[attr]; ok {
				if perValue[index] == nil {
					perValue[index] = map[string]int{}
				}
				perValue[index][text(av)]++
			}
		}
		for attr, index := range keys {
			av, ok := item[attr]
			if !ok {
				continue
			}
			for _, v := range []string{email, phone, ext, strings.TrimPrefix(phone, "+")} {
				if holds(av, v) {
					t.Errorf("attribute %s (key of %s) holds %q in clear: %q", attr, index, v, text(av))
				}
			}
		}
		whole := &types.AttributeValueMemberM{Value: item}
		for _, id := range ids {
			hashed := false
			for index, attr := range partitions {
				_, ok := item[attr]
				hashed = hashed || ok && strings.HasPrefix(index, "id_")
			}
			if holds(whole, id) && hashed {
				mine++
			}
		}
	}
	if n := len(perValue["deadline"]); n < 4 {
		t.Errorf("the deadline index's items have %d partition key values", n)
	}
	for index, values := range perValue {
		if strings.HasPrefix(index, "id_") {
			continue // one person's key: the tests submit many requests as one subject
		}
		total := 0
		for _, n := range values {
			total += n
		}
		for v, n := range values {
			if n > 16 && n*4 > total {
				t.Errorf("index %s: partition key %q holds %d of its %d items: a hot key", index, v, n, total)
			}
		}
	}
	if mine < 2 {
		t.Errorf("found %d items of the requests with an identity hash in a key, want 2: the check read nothing", mine)
	}
}

// TestAccessLogKeepsEntries400Days: an access-log entry carries the
// table's time to live, 400 days after it was written.
func TestAccessLogKeepsEntries400Days(t *testing.T) {
	c := admin(t)
	c.must(200, "PUT", "/dsr/webhook/pre_approval", []any{}, nil)
	var sub bulkOut
	c.must(200, "POST", "/privacy-request", []map[string]any{{"identity": map[string]string{"email": unique("kept") + "@example.com"},
		"policy_key": "default_access_policy"}}, &sub)
	if len(sub.Succeeded) != 1 {
		t.Fatalf("submit: %+v", sub)
	}
	id := sub.Succeeded[0].ID
	at := time.Now()
	c.must(200, "POST", "/privacy-request/"+id+"/reveal", nil, nil)

	// The emulator's tables are made without their time to live: the
	// template says which attribute it is.
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.LoadTemplate(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := stack.Dig(tmpl.Resources["AccessLogTable"].Properties, "TimeToLiveSpecification")
	attr, _ := stack.Dig(spec, "AttributeName").(string)
	if attr == "" || fmt.Sprint(stack.Dig(spec, "Enabled")) != "true" {
		t.Fatalf("the access-log table has no time to live: %v", spec)
	}
	db := dynamodb.NewFromConfig(c.sys.AWS)
	table := c.sys.Stack.Resources["AccessLogTable"].Ref
	var found []map[string]types.AttributeValue
	for _, item := range scanAll(t, db, table) {
		if holds(&types.AttributeValueMemberM{Value: item}, id) {
			found = append(found, item)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access-log items name %s, want the one reveal", len(found), id)
	}
	expires, err := strconv.ParseInt(text(found[0][attr]), 10, 64)
	if err != nil {
		t.Fatalf("the reveal's entry has no %s (the time to live): %v", attr, found[0])
	}
	if kept := time.Unix(expires, 0).Sub(at); kept < 400*24*time.Hour-time.Minute || kept > 400*24*time.Hour+time.Minute {
		t.Errorf("the reveal's entry is kept %s, want 400 days", kept)
	}
}
