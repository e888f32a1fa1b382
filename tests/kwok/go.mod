// Wrapper module: builds kwok (fake nodes and pods) for the test bed. No Go
// source lives here.
module cnpg-mcp/testbed/kwok

go 1.26.0

require sigs.k8s.io/kwok v0.8.0
