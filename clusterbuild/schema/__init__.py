"""What the user wrote: ``apps.yaml`` and each app's ``clusterbuild.yaml``, as validated models."""
