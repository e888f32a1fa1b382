// Wrapper module: builds the CloudNativePG operator (cmd/manager) for the
// test bed; the same pinned version supplies the CRDs and webhook
// manifests. No Go source lives here.
module cnpg-mcp/testbed/cnpg-operator

go 1.26.4

require github.com/cloudnative-pg/cloudnative-pg v1.30.0
