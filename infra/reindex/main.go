// Command reindex is a step of upgrading a stack whose requests table
// predates the sharded indexes (docs/internals/storage.md, "Upgrading a stack"): it
// gives every stored request the attributes the created, status and due
// indexes are keyed on. It uses the AWS credentials and region of the
// environment, like the AWS CLI, and is safe to run again.
//
//	go run ./infra/reindex -table <RequestsTable's physical name>
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pregate/pregate/internal/dynamo"
)

func main() {
	table := flag.String("table", "", "the requests table's name (the stack's RequestsTable)")
	flag.Parse()
	if *table == "" {
		log.Fatal("reindex: -table is required")
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatalf("reindex: AWS configuration: %v", err)
	}
	res, err := dynamo.NewRequestStore(dynamodb.NewFromConfig(cfg, dynamo.RetryConflicts), *table).Reindex(ctx, time.Now())
	if err != nil {
		log.Fatalf("reindex: %v (after %d scanned, %d updated; run it again to go on)", err, res.Scanned, res.Updated)
	}
	fmt.Printf("reindex: scanned=%d updated=%d changed_meanwhile=%d\n", res.Scanned, res.Updated, res.Moved)
}
