{{/* registry/repository:tag@digest; global.imageRegistry wins over image.registry */}}
{{- define "web.image" -}}
{{- $registry := .image.registry -}}
{{- if .global.imageRegistry }}{{ $registry = .global.imageRegistry }}{{ end -}}
{{- $ref := printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry $ref }}{{ end -}}
{{- if .image.digest }}{{ $ref = printf "%s@%s" $ref .image.digest }}{{ end -}}
{{- $ref -}}
{{- end -}}

{{- define "web.name" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}
