"""The OCI model: what an image is. No I/O here.

Places where images live (layout, archive, registry) are in ``clusterbuild.places``.
"""
