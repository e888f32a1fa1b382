{{- define "cnpg-mcp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cnpg-mcp.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cnpg-mcp.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cnpg-mcp.serviceAccount" -}}
{{- default (include "cnpg-mcp.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "cnpg-mcp.stateKeySecret" -}}
{{- default (printf "%s-state-key" (include "cnpg-mcp.fullname" .)) .Values.requestStateKey.existingSecret -}}
{{- end -}}

{{- define "cnpg-mcp.profile" -}}
{{- if .Values.impersonation.enabled -}}impersonator{{- else -}}{{ .Values.rbac.profile }}{{- end -}}
{{- end -}}

{{- define "cnpg-mcp.hasComponents" -}}
{{- if or .Values.components.configMap .Values.components.volume .Values.components.image.reference .Values.components.grants -}}true{{- end -}}
{{- end -}}

{{/* The RBAC rules the enabled opt-in built-ins add to a profile, as JSON
     {"rules": [...]}; none for the impersonator profile (the callers' own
     RBAC decides there). Arguments: (list . profile suffix). */}}
{{- define "cnpg-mcp.optInRules" -}}
{{- $root := index . 0 }}{{- $profile := index . 1 }}{{- $suffix := index . 2 }}
{{- $rules := list }}
{{- if ne $profile "impersonator" }}
{{- range $component := $root.Values.components.enableBuiltin }}
{{- $file := printf "files/rbac/opt-in/%s/%s%s.json" $component $profile $suffix }}
{{- $text := $root.Files.Get $file }}
{{- if not $text }}
{{- fail (printf "components.enableBuiltin: %s is not an opt-in built-in component" $component) }}
{{- end }}
{{- $rules = concat $rules ($text | fromJson).rules }}
{{- end }}
{{- end }}
{{- dict "rules" $rules | toJson }}
{{- end }}
