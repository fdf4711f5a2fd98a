"""Places images live: an OCI layout directory, an oci-archive tar (and, later, registries)."""
