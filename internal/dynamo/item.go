package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pregate/pregate/internal/gate"
)

// Item is r as the requests table stores it, and so as the table's stream
// shows it; make bench's in-memory pipeline builds stream records with it.
func Item(r *gate.PrivacyRequest) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMap(toRequestItem(r))
}
