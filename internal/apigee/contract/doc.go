// Package contract holds the contract tests of the Apigee clients: one
// table of cases run against the emulator for each dialect (X with a bearer
// token, Edge with Basic auth, Edge with the OAuth password grant), through
// connect.New as the controller builds clients, plus the fault soak, the
// rate check and the redaction check. It has no non-test code.
package contract
