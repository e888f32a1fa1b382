// Wrapper module: builds the helm CLI for the chart tests. No Go source lives here.
module cnpg-mcp/tests/helm

go 1.26.0

require helm.sh/helm/v3 v3.22.0 // indirect
