{{/* Chart name. */}}
{{- define "jwt-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or fullnameOverride. */}}
{{- define "jwt-authz.fullname" -}}
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

{{/* Selector labels. */}}
{{- define "jwt-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jwt-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "jwt-authz.labels" -}}
{{ include "jwt-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default "dev" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | default "Helm" }}
app.kubernetes.io/component: ext-authz
{{- end }}

{{/* ServiceAccount name. */}}
{{- define "jwt-authz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "jwt-authz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Image reference: digest wins over tag. */}}
{{- define "jwt-authz.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* "true" when top-level keys are mounted (a Secret or a ConfigMap); fails when there are
neither keys nor providers. */}}
{{- define "jwt-authz.hasKeys" -}}
{{- if or .Values.keys.create .Values.keys.existingSecret .Values.keys.existingConfigMap }}
{{- "true" }}
{{- else if not .Values.providers }}
{{- fail "set keys.existingSecret to the Secret holding your keys, keys.existingConfigMap to a ConfigMap of public keys (encoding: pem or format: jwks), providers to fetch keys from your identity provider, or keys.create=true with keys.values for development only" }}
{{- end }}
{{- end }}

{{/* "true" when a provider fetches its keys (discovery or jwks_uri). */}}
{{- define "jwt-authz.remoteProviders" -}}
{{- range .Values.providers }}
{{- if or .discovery .jwks_uri }}true{{ break }}{{ end }}
{{- end }}
{{- end }}

{{/* Name of the key Secret. */}}
{{- define "jwt-authz.keySecretName" -}}
{{- if .Values.keys.create }}
{{- printf "%s-keys" (include "jwt-authz.fullname" .) }}
{{- else }}
{{- .Values.keys.existingSecret }}
{{- end }}
{{- end }}

{{/* The key volume's source: a ConfigMap of public keys, or the key Secret. */}}
{{- define "jwt-authz.keyVolumeSource" -}}
{{- if .Values.keys.existingConfigMap }}
{{- if and (eq .Values.keys.format "files") (ne .Values.keys.encoding "pem") }}
{{- fail "keys.existingConfigMap holds public keys: use keys.encoding: pem or keys.format: jwks (HMAC secrets belong in a Secret)" }}
{{- end }}
configMap:
  name: {{ .Values.keys.existingConfigMap }}
  defaultMode: {{ .Values.keys.defaultMode }}
{{- else }}
secret:
  secretName: {{ include "jwt-authz.keySecretName" . }}
  defaultMode: {{ .Values.keys.defaultMode }}
{{- end }}
{{- end }}

{{/* Name of the config ConfigMap. */}}
{{- define "jwt-authz.configName" -}}
{{- printf "%s-config" (include "jwt-authz.fullname" .) }}
{{- end }}

{{/* The gRPC listen address inside the pod. */}}
{{- define "jwt-authz.grpcAddr" -}}
{{- if and (eq .Values.mode "sidecar") .Values.sidecar.unixSocket }}
{{- printf "unix:%s/authz.sock" .Values.sidecar.socketDir }}
{{- else if eq .Values.mode "sidecar" }}
{{- printf "127.0.0.1:%v" .Values.ports.grpc }}
{{- else }}
{{- printf "0.0.0.0:%v" .Values.ports.grpc }}
{{- end }}
{{- end }}

{{/* True when the admin listener must be reachable from outside the pod: standalone (the
Service and its scrapers), or a sidecar whose pod Prometheus scrapes. Otherwise it is bound to
loopback and the probes are exec probes. */}}
{{- define "jwt-authz.adminExposed" -}}
{{- if or (eq .Values.mode "standalone") .Values.metrics.podMonitor.enabled .Values.sidecar.exposeAdmin }}true{{ end }}
{{- end }}

{{/* The admin listen address inside the pod. */}}
{{- define "jwt-authz.adminAddr" -}}
{{- if include "jwt-authz.adminExposed" . }}
{{- printf "0.0.0.0:%v" .Values.ports.admin }}
{{- else }}
{{- printf "127.0.0.1:%v" .Values.ports.admin }}
{{- end }}
{{- end }}

{{/* The jwt-authz config file: the user's config plus listen, keys and providers (each remote
provider gets the chart's CA bundle and cache directory unless it names its own). */}}
{{- define "jwt-authz.configFile" -}}
{{- $keys := dict "dir" .Values.keys.mountPath "format" .Values.keys.format }}
{{- if eq .Values.keys.format "files" }}
{{- $_ := set $keys "encoding" .Values.keys.encoding }}
{{- $_ := set $keys "algorithm" .Values.keys.algorithm }}
{{- else if .Values.keys.jwksDefaultAlgorithm }}
{{- $_ := set $keys "algorithm" .Values.keys.jwksDefaultAlgorithm }}
{{- end }}
{{- $listen := dict "grpc" (include "jwt-authz.grpcAddr" .) "admin" (include "jwt-authz.adminAddr" .) }}
{{- $file := merge (dict "listen" $listen) (deepCopy .Values.config) }}
{{- if include "jwt-authz.hasKeys" . }}
{{- $_ := set $file "keys" (list $keys) }}
{{- end }}
{{- if .Values.providers }}
{{- $providers := list }}
{{- range .Values.providers }}
{{- $p := deepCopy . }}
{{- if or $p.discovery $p.jwks_uri }}
{{- $remote := $p.remote | default dict }}
{{- if and $.Values.providersCA.existingConfigMap (not (hasKey $remote "ca_file")) }}
{{- $_ := set $remote "ca_file" (printf "%s/%s" $.Values.providersCA.mountPath $.Values.providersCA.key) }}
{{- end }}
{{- if and $.Values.providersCache.enabled (not (hasKey $remote "cache_dir")) }}
{{- $_ := set $remote "cache_dir" $.Values.providersCache.mountPath }}
{{- end }}
{{- $_ := set $p "remote" $remote }}
{{- end }}
{{- $providers = append $providers $p }}
{{- end }}
{{- $_ := set $file "providers" $providers }}
{{- end }}
{{- toYaml $file }}
{{- end }}
