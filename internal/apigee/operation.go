package apigee

import "context"

// Operation names, one per Client method. They label metrics and logs and
// travel in the request context (WithOperation): never derive an operation
// from a URL path, which holds consumer keys.
const (
	OpProbe            = "Probe"
	OpGetApp           = "GetApp"
	OpGetKey           = "GetKey"
	OpImportKey        = "ImportKey"
	OpAddProducts      = "AddProducts"
	OpSetAttributes    = "SetAttributes"
	OpSetScopes        = "SetScopes"
	OpRemoveProduct    = "RemoveProduct"
	OpSetKeyStatus     = "SetKeyStatus"
	OpSetProductStatus = "SetProductStatus"
	OpDeleteKey        = "DeleteKey"
)

// opUnknown labels requests made without WithOperation.
const opUnknown = "unknown"

type operationKey struct{}

type keyFingerprintKey struct{}

// WithOperation records which Client operation the requests made with ctx
// belong to, for the transport's metrics and logs.
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

// OperationFrom returns the operation recorded by WithOperation, or "unknown".
func OperationFrom(ctx context.Context) string {
	if op, ok := ctx.Value(operationKey{}).(string); ok && op != "" {
		return op
	}
	return opUnknown
}

// WithConsumerKey records the fingerprint (never the value) of the key the
// requests made with ctx are about, so logs can name it.
func WithConsumerKey(ctx context.Context, consumerKey string) context.Context {
	if consumerKey == "" {
		return ctx
	}
	return context.WithValue(ctx, keyFingerprintKey{}, Fingerprint(consumerKey))
}

// keyFingerprintFrom returns the fingerprint recorded by WithConsumerKey, or "".
func keyFingerprintFrom(ctx context.Context) string {
	fp, _ := ctx.Value(keyFingerprintKey{}).(string)
	return fp
}
