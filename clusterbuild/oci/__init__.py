"""The OCI model: what an image is. No I/O here; places (layout, archive, registry) live in ``clusterbuild.places``."""
