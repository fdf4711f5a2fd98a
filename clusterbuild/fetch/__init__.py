"""Remote inputs: fetched over HTTP or from OCI registries, verified, unpacked into the content store.

Modules: ``http`` (``Fetcher``: downloads with mirrors, retries, resumption, checksums) over
``transfer`` (one GET and its retries); ``archives`` (``unpack`` tar, tar.gz, zip, gz or a
bare file into store blobs and ``FileEntry`` values) with ``members`` (selection, stripping,
path safety); ``elf`` (which architecture a binary is for); ``charts`` (a chart from a
repository index or an OCI registry) with ``semver``; ``values`` (editing values.yaml).

Nothing here writes outside the content store, and nothing unverified enters it. Errors:

    BuildError   a download failed (status, connection, checksum, HTML page instead of the
                 file), an archive was refused, a binary is for another architecture
    InputError   the spec asks for what is not there: a chart, version or app version the
                 repository lacks, a malformed values path

The package imports none of its modules: the pure ones (``charts``, ``semver``, ``values``) can
be used by planning code without pulling in httpx, the store or the registry client.
"""
