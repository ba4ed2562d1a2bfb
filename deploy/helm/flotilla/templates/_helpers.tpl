{{/* Names, labels, image references and the hub's addresses. */}}

{{- define "flotilla.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's base name; objects append -hub, -agent, ... (max 40 characters so every derived name stays a DNS label). */}}
{{- define "flotilla.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flotilla.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "flotilla.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "flotilla.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: flotilla
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: include with (dict "ctx" $ "component" "hub"). */}}
{{- define "flotilla.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flotilla.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "flotilla.componentLabels" -}}
{{ include "flotilla.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image tag: image.tag, else the chart's appVersion. */}}
{{- define "flotilla.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* An image reference: include with (dict "ctx" $ "image" .Values.hub.image). */}}
{{- define "flotilla.image" -}}
{{- $repo := printf "%s/%s" (trimSuffix "/" .ctx.Values.image.registry) .image.name -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repo .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "flotilla.tag" .ctx) -}}
{{- end -}}
{{- end -}}

{{- define "flotilla.hub.name" -}}{{ include "flotilla.fullname" . }}-hub{{- end -}}
{{- define "flotilla.hub.peers" -}}{{ include "flotilla.fullname" . }}-hub-peers{{- end -}}
{{- define "flotilla.agent.name" -}}{{ include "flotilla.fullname" . }}-agent{{- end -}}
{{- define "flotilla.idmapper.name" -}}{{ include "flotilla.fullname" . }}-idmapper{{- end -}}

{{/* The Secret with the hub's TLS material (tls.crt, tls.key, ca.crt). */}}
{{- define "flotilla.hub.tlsSecret" -}}
{{- if eq .Values.hub.tls.mode "secret" -}}
{{- required "hub.tls.secretName is required when hub.tls.mode is secret" .Values.hub.tls.secretName -}}
{{- else -}}
{{- include "flotilla.hub.name" . }}-tls
{{- end -}}
{{- end -}}

{{- define "flotilla.hub.secrets" -}}
{{- default (printf "%s-secrets" (include "flotilla.hub.name" .)) .Values.hub.secrets.existingSecret -}}
{{- end -}}

{{/* Stable DNS name of replica i: include with (dict "ctx" $ "i" 0). */}}
{{- define "flotilla.hub.replicaHost" -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "flotilla.hub.name" .ctx) (int .i) (include "flotilla.hub.peers" .ctx) .ctx.Release.Namespace .ctx.Values.clusterDomain -}}
{{- end -}}

{{/* The API Service's in-cluster URL. */}}
{{- define "flotilla.hub.serviceURL" -}}
{{- printf "https://%s.%s.svc:%d" (include "flotilla.hub.name" .) .Release.Namespace (int .Values.hub.apiPort) -}}
{{- end -}}

{{/* DNS names the hub certificate must carry, one per line. */}}
{{- define "flotilla.hub.dnsNames" -}}
{{- $hub := include "flotilla.hub.name" . -}}
{{- $ns := .Release.Namespace -}}
{{ printf "*.%s.%s.svc.%s" (include "flotilla.hub.peers" .) $ns .Values.clusterDomain }}
{{ printf "*.%s.%s.svc" (include "flotilla.hub.peers" .) $ns }}
{{ printf "%s.%s.svc.%s" $hub $ns .Values.clusterDomain }}
{{ printf "%s.%s.svc" $hub $ns }}
{{ printf "%s.%s" $hub $ns }}
{{ $hub }}
localhost
{{- if .Values.hub.ingress.host }}
{{ .Values.hub.ingress.host }}
{{- end }}
{{- range .Values.hub.gateway.hostnames }}
{{ . }}
{{- end }}
{{- range .Values.hub.tls.extraDNSNames }}
{{ . }}
{{- end }}
{{- end -}}

{{/* The agent's hub URLs, comma-separated. */}}
{{- define "flotilla.agent.hubURLs" -}}
{{- if .Values.agent.hub.urls -}}
{{- join "," .Values.agent.hub.urls -}}
{{- else if .Values.hub.enabled -}}
{{- include "flotilla.hub.serviceURL" . -}}
{{- else -}}
{{- fail "agent.hub.urls is required when this release runs no hub (hub.enabled=false)" -}}
{{- end -}}
{{- end -}}

{{- define "flotilla.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "flotilla.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
