{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "apigee-key-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name when it already holds the chart name. */}}
{{- define "apigee-key-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "apigee-key-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "apigee-key-operator.labels" -}}
helm.sh/chart: {{ include "apigee-key-operator.chart" . }}
{{ include "apigee-key-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: apigee-key-operator
{{- end }}

{{/* Labels that select the operator pods; never change them (selectors are immutable). */}}
{{- define "apigee-key-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "apigee-key-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "apigee-key-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "apigee-key-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "apigee-key-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when the operator must elect a leader: asked for, or more than one replica. */}}
{{- define "apigee-key-operator.leaderElect" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/* Namespace of the leader election lease. */}}
{{- define "apigee-key-operator.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/*
The operator's arguments, from values. The flags are defined in
cmd/apigee-key-operator/flags.go.
*/}}
{{- define "apigee-key-operator.args" -}}
{{- if .Values.metrics.enabled }}
- --metrics-bind-address=:{{ .Values.metrics.port }}
- --metrics-secure={{ .Values.metrics.secure }}
{{- else }}
- --metrics-bind-address=0
{{- end }}
- --health-probe-bind-address=:{{ .Values.health.port }}
{{- if include "apigee-key-operator.leaderElect" . }}
- --leader-elect
{{- if .Values.leaderElection.namespace }}
- --leader-election-namespace={{ .Values.leaderElection.namespace }}
{{- end }}
{{- end }}
- --resync-interval={{ .Values.resyncInterval }}
- --expiry-warning-window={{ .Values.expiryWarningWindow }}
{{- with .Values.watchNamespaces }}
- --watch-namespaces={{ join "," . }}
{{- end }}
- --namespaced-ambient-credentials={{ .Values.namespacedAmbientCredentials }}
- --organization-requests-per-minute={{ .Values.organizationRateLimit.requestsPerMinute }}
- --organization-burst={{ .Values.organizationRateLimit.burst }}
- --records-secret={{ .Release.Namespace }}/{{ include "apigee-key-operator.fullname" . }}-records
- -v={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
{{- with .Values.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Namespaced resources whose permissions go into a Role per watched namespace
when watchNamespaces is set. Everything else in the generated rules
(namespaces, clusterapigeeconnections, events for cluster-scoped objects)
stays in the ClusterRole, so a new marker never silently loses a permission.
*/}}
{{- define "apigee-key-operator.namespacedResources" -}}
secrets developerappkeys apigeeconnections
{{- end }}

{{/*
The generated manager rules, filtered to the namespaced resources
(namespaced=true) or the rest (namespaced=false). Takes a dict with
"rules" (list) and "namespaced" (bool). Prints a YAML list.
*/}}
{{- define "apigee-key-operator.selectRules" -}}
{{- $namespacedResources := splitList " " (include "apigee-key-operator.namespacedResources" .) }}
{{- $out := list }}
{{- range $rule := .rules }}
{{- $resources := list }}
{{- range $r := $rule.resources }}
{{- if eq (has (first (splitList "/" $r)) $namespacedResources) $.namespaced }}
{{- $resources = append $resources $r }}
{{- end }}
{{- end }}
{{- if $resources }}
{{- $out = append $out (dict "apiGroups" $rule.apiGroups "resources" $resources "verbs" $rule.verbs) }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/*
The alert rule groups of the PrometheusRule, on the operator's metrics.
test/chart renders them and runs promtool's rule tests against synthetic
series (test/chart/testdata/alerts-test.yaml).
*/}}
{{- define "apigee-key-operator.alertGroups" -}}
- name: apigee-key-operator
  rules:
    - alert: ApigeeKeyExpiringSoon
      expr: |
        0 < apigee_key_operator_key_expiration_timestamp_seconds - time() < {{ int64 .Values.prometheusRule.expiringWithinSeconds }}
      labels:
        severity: warning
      annotations:
        summary: "Apigee key {{ "{{" }} $labels.namespace {{ "}}" }}/{{ "{{" }} $labels.name {{ "}}" }} expires soon"
        description: "The DeveloperAppKey's key expires in {{ "{{" }} $value | humanizeDuration {{ "}}" }}. Put a new consumer key in its Secret, or set rotation.renewBefore on a generated key."
    - alert: ApigeeKeyExpired
      expr: |
        apigee_key_operator_key_expiration_timestamp_seconds - time() <= 0
      labels:
        severity: critical
      annotations:
        summary: "Apigee key {{ "{{" }} $labels.namespace {{ "}}" }}/{{ "{{" }} $labels.name {{ "}}" }} has expired"
        description: "Apigee rejects the DeveloperAppKey's key. Put a new consumer key in its Secret."
    - alert: ApigeeKeysNotReady
      expr: |
        sum by (reason) (apigee_key_operator_developerappkeys{reason!="Converged"}) > 0
      for: {{ .Values.prometheusRule.keysNotReadyFor }}
      labels:
        severity: warning
      annotations:
        summary: "{{ "{{" }} $value {{ "}}" }} DeveloperAppKeys not Ready ({{ "{{" }} $labels.reason {{ "}}" }})"
        description: "DeveloperAppKeys have reported Ready reason {{ "{{" }} $labels.reason {{ "}}" }} for {{ .Values.prometheusRule.keysNotReadyFor }}; kubectl get dak -A -o wide shows which."
    - alert: ApigeeConnectionNotReady
      expr: |
        apigee_key_operator_connection_ready == 0
      for: {{ .Values.prometheusRule.connectionNotReadyFor }}
      labels:
        severity: critical
      annotations:
        summary: "{{ "{{" }} $labels.kind {{ "}}" }} {{ "{{" }} $labels.namespace {{ "}}" }}/{{ "{{" }} $labels.name {{ "}}" }} is not Ready"
        description: "The operator cannot reach or authenticate to the connection's Apigee organization; keys using it are not reconciled."
{{- end }}

{{/*
GOMEMLIMIT for the operator: goMemLimitPercent of resources.limits.memory,
in whole MiB. Empty without a memory limit, with goMemLimitPercent 0, or
when extraEnv sets GOMEMLIMIT itself. A limit is a Kubernetes quantity: a
number with an optional k, M, G, T, Ki, Mi, Gi or Ti suffix.
*/}}
{{- define "apigee-key-operator.goMemLimit" -}}
{{- $percent := int .Values.goMemLimitPercent -}}
{{- $limit := "" -}}
{{- with .Values.resources }}{{ with .limits }}{{ with .memory }}{{ $limit = . }}{{ end }}{{ end }}{{ end -}}
{{- $overridden := false -}}
{{- range .Values.extraEnv }}{{ if eq .name "GOMEMLIMIT" }}{{ $overridden = true }}{{ end }}{{ end -}}
{{- if and $limit (gt $percent 0) (not $overridden) -}}
{{- $bytes := 0.0 -}}
{{- if kindIs "string" $limit -}}
{{- $units := dict "" 1 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $limit -}}
{{- $unit := trimPrefix $number $limit -}}
{{- if or (not $number) (not (hasKey $units $unit)) -}}
{{- fail (printf "resources.limits.memory %q: goMemLimitPercent reads a number with an optional k, M, G, T, Ki, Mi, Gi or Ti suffix; write the limit so, or set goMemLimitPercent: 0 and GOMEMLIMIT in extraEnv" $limit) -}}
{{- end -}}
{{- $bytes = mulf $number (get $units $unit) -}}
{{- else -}}
{{- $bytes = float64 $limit -}}
{{- end -}}
{{- printf "%dMiB" (int64 (floor (divf (mulf $bytes $percent) 104857600))) -}}
{{- end -}}
{{- end }}

{{/*
GOGC for the operator: goGC, unless it is null or extraEnv sets GOGC itself.
*/}}
{{- define "apigee-key-operator.goGC" -}}
{{- $overridden := false -}}
{{- range .Values.extraEnv }}{{ if eq .name "GOGC" }}{{ $overridden = true }}{{ end }}{{ end -}}
{{- if and (not (kindIs "invalid" .Values.goGC)) (not $overridden) -}}
{{- int .Values.goGC -}}
{{- end -}}
{{- end }}
