{{- define "probegate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "probegate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "probegate.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "probegate.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "probegate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "probegate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "probegate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "probegate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "probegate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "probegate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "probegate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Consul HTTP address: the configured one, or the node's Consul client agent. */}}
{{- define "probegate.consulAddress" -}}
{{- if .Values.consul.address -}}
{{- .Values.consul.address -}}
{{- else -}}
{{- printf "$(PROBEGATE_NODE_IP):%s" (ternary "8501" "8500" .Values.consul.tls.enabled) -}}
{{- end -}}
{{- end -}}

{{/* Values that JSON schema cannot check alone. */}}
{{- define "probegate.validate" -}}
{{- if and .Values.consul.tls.serverName (not .Values.consul.tls.enabled) -}}
{{- fail "consul.tls.serverName is set but consul.tls.enabled is false: enable TLS or drop the server name" -}}
{{- end -}}
{{- if and .Values.consul.tls.caSecret.name (not .Values.consul.tls.enabled) -}}
{{- fail "consul.tls.caSecret.name is set but consul.tls.enabled is false: enable TLS or drop the CA secret" -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled (a ServiceMonitor selects the metrics Service)" -}}
{{- end -}}
{{- end -}}
