package stack_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/awsenv"
	"github.com/pregate/pregate/internal/awstest"
)

// TestMotoKeepAlive: with KeepAlive, SDK calls share one connection, as
// they would with AWS (the CPU measure counts what each call costs us, a
// new connection per call would not be ours to pay), and the answers stay
// whole: the SDK checks each DynamoDB body against its CRC32, and an
// error's answer is followed by a good one on the same connection.
func TestMotoKeepAlive(t *testing.T) {
	awstest.Endpoint(t)
	ctx := context.Background()
	m, err := stack.StartMoto(ctx, awstest.Root(), stack.MotoOptions{KeepAlive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	var dials atomic.Int32
	cfg := awsenv.Emulator(m.Endpoint)
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, addr)
		}
	})
	db := dynamodb.NewFromConfig(cfg)
	table := aws.String("keepalive")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: table, BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
	}); err != nil {
		t.Fatal(err)
	}
	const calls = 20
	for i := range calls {
		key := map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: strconv.Itoa(i)}}
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: key}); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: table, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := got.Item["id"].(*ddbtypes.AttributeValueMemberS); id == nil || id.Value != strconv.Itoa(i) {
			t.Fatalf("item %d read back as %v", i, got.Item)
		}
		_, err = db.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: key, ConditionExpression: aws.String("attribute_not_exists(id)")})
		var ccf *ddbtypes.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			t.Fatalf("second put of item %d: %v, want a failed condition", i, err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d calls one at a time dialed %d connections, want 1", 1+3*calls, n)
	}
}
