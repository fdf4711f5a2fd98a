"""From apps.yaml and app directories to what each build needs: versions, templates, contexts."""
