{{- define "ops.image" -}}
{{- printf "%s/%s:%s" .registry .repository (toString .tag) -}}
{{- end -}}
{{- define "ops.guard" -}}
{{- if and $.Release.IsInstall (eq $.Release.Namespace "default") -}}
{{- fail "ops must be installed into its own namespace: give -n <namespace>" -}}
{{- end -}}
{{- end -}}
