{{/*
The jwt-authz container, for other charts to include in their pods (mode: sidecar), and for the
Deployment of mode: standalone. The context needs `.Values` (this chart's values), `.Release`
and `.Chart.Name`. From a parent chart that depends on jwt-authz:

  {{- $jwt := dict "Values" (index .Values "jwt-authz") "Release" .Release "Chart" (dict "Name" "jwt-authz" "AppVersion" "") }}
  containers:
    {{- include "jwt-authz.sidecar" $jwt | nindent 4 }}
  volumes:
    {{- include "jwt-authz.sidecarVolumes" $jwt | nindent 4 }}
*/}}
{{- define "jwt-authz.sidecar" -}}
- name: jwt-authz
  image: {{ include "jwt-authz.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: [serve, --config, /etc/jwt-authz/config/config.yaml]
  env:
    - name: JWT_AUTHZ_LOG_FORMAT
      value: {{ .Values.logging.format | quote }}
    - name: JWT_AUTHZ_LOG_LEVEL
      value: {{ .Values.logging.level | quote }}
  ports:
    {{- if not (and (eq .Values.mode "sidecar") .Values.sidecar.unixSocket) }}
    - name: grpc
      containerPort: {{ .Values.ports.grpc }}
      protocol: TCP
    {{- end }}
    {{- if include "jwt-authz.adminExposed" . }}
    - name: admin
      containerPort: {{ .Values.ports.admin }}
      protocol: TCP
    {{- end }}
  {{- if include "jwt-authz.adminExposed" . }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: admin
    {{- toYaml .Values.probes.liveness | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: admin
    {{- toYaml .Values.probes.readiness | nindent 4 }}
  {{- else }}
  {{- /* The admin listener is on loopback, which kubelet probes cannot reach: exec probes. */}}
  livenessProbe:
    exec:
      command: [/jwt-authz, probe, --http, {{ printf "127.0.0.1:%v/healthz" .Values.ports.admin | quote }}]
    {{- toYaml .Values.probes.liveness | nindent 4 }}
  readinessProbe:
    exec:
      command: [/jwt-authz, probe, --http, {{ printf "127.0.0.1:%v/readyz" .Values.ports.admin | quote }}]
    {{- toYaml .Values.probes.readiness | nindent 4 }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    {{- if include "jwt-authz.hasKeys" . }}
    - name: jwt-authz-keys
      mountPath: {{ .Values.keys.mountPath }}
      readOnly: true
    {{- end }}
    {{- if and (include "jwt-authz.remoteProviders" .) .Values.providersCA.existingConfigMap }}
    - name: jwt-authz-provider-ca
      mountPath: {{ .Values.providersCA.mountPath }}
      readOnly: true
    {{- end }}
    {{- if and (include "jwt-authz.remoteProviders" .) .Values.providersCache.enabled }}
    - name: jwt-authz-jwks-cache
      mountPath: {{ .Values.providersCache.mountPath }}
    {{- end }}
    - name: jwt-authz-config
      mountPath: /etc/jwt-authz/config
      readOnly: true
    {{- if and (eq .Values.mode "sidecar") .Values.sidecar.unixSocket }}
    - name: jwt-authz-socket
      mountPath: {{ .Values.sidecar.socketDir }}
    {{- end }}
{{- end }}

{{/* The volumes the jwt-authz container mounts (directories, never subPath: they hot-reload). */}}
{{- define "jwt-authz.sidecarVolumes" -}}
{{- $volumes := list }}
{{- if include "jwt-authz.hasKeys" . }}
{{- $volumes = append $volumes (merge (dict "name" "jwt-authz-keys") (include "jwt-authz.keyVolumeSource" . | fromYaml)) }}
{{- end }}
{{- if and (include "jwt-authz.remoteProviders" .) .Values.providersCA.existingConfigMap }}
{{- $volumes = append $volumes (dict "name" "jwt-authz-provider-ca" "configMap" (dict "name" .Values.providersCA.existingConfigMap)) }}
{{- end }}
{{- if and (include "jwt-authz.remoteProviders" .) .Values.providersCache.enabled }}
{{- $volumes = append $volumes (dict "name" "jwt-authz-jwks-cache" "emptyDir" (dict "sizeLimit" .Values.providersCache.sizeLimit)) }}
{{- end }}
{{- $volumes = append $volumes (dict "name" "jwt-authz-config" "configMap" (dict "name" (include "jwt-authz.configName" .))) }}
{{- if and (eq .Values.mode "sidecar") .Values.sidecar.unixSocket }}
{{- $volumes = append $volumes (dict "name" "jwt-authz-socket" "emptyDir" (dict "medium" "Memory" "sizeLimit" "1Mi")) }}
{{- end }}
{{- toYaml $volumes }}
{{- end }}
