"""Supply chain: what a cluster image ships (``inventory``), as SPDX 2.3 (``sbom``) and
CycloneDX 1.5 (``cyclonedx``) documents, signed in cosign's format (``signing``), and what
changed between two versions (``diff``). Pure values and bytes: no network, no terminal;
the places (``places.referrers``, ``places.bundle``) move them."""
