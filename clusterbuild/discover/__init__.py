"""Image discovery: every image an app's cluster image needs, with provenance.

    discover_images(files, DiscoverOptions(mode="full")) -> [FoundImage(reference, sources)]

``sealos`` mode finds what ``sealos build`` finds (the compatibility floor): shim
lists, ``images/skopeo/tar.txt``, a line scan of manifests and of rendered charts.
``full`` mode adds a YAML walk of manifests and rendered documents, renders with
the install command's ``--set``/``-f`` values (``helm_opts_from_env``) and with
named value profiles. ``ENGINE_VERSION`` changes whenever results may change.
"""

from clusterbuild.discover.collect import discover_images
from clusterbuild.discover.helm_opts import helm_opts_from_env
from clusterbuild.discover.model import ENGINE_VERSION, DiscoverOptions, FoundImage

__all__ = ["ENGINE_VERSION", "DiscoverOptions", "FoundImage", "discover_images", "helm_opts_from_env"]
