"""Image discovery: every image an app's cluster image needs, with provenance.

    discover_images(files, DiscoverOptions(mode="full")) -> [FoundImage(reference, sources, archives)]

``sealos`` mode finds what ``sealos build`` finds (the compatibility floor): shim
lists, ``images/skopeo/tar.txt``, a line scan of manifests and of each chart
rendered with its defaults as sealos renders it (``release``). ``full`` mode adds a YAML
walk of manifests and rendered documents (argument pairs, config text: ``config_text``),
renders with the install command's ``--set``/``-f`` values (``helm_opts_from_env``) and
with value profiles (``profiles``), and the images charts list (``chart_lists``).
Each source names file:line and the rule that found it. ``.sealignore`` leaves
references out. ``FoundImage.archives`` names the local archives (tar.txt) an
image is loaded from instead of being pulled. ``ENGINE_VERSION`` changes whenever
results may change; ``DiscoverOptions.fingerprint()`` is the options' part of a key.

Modules: ``collect`` (the entry point) reads ``line_scan`` (sealos' scanners),
``yaml_walk`` (full mode) and ``charts`` (which renders through ``helm_render``,
the only module importing helm_python, with values from ``helm_opts``). docs/discovery.md
tells users the same.
"""

from clusterbuild.discover.collect import discover_images
from clusterbuild.discover.helm_opts import helm_opts_from_env
from clusterbuild.discover.model import ENGINE_VERSION, DiscoverOptions, FoundImage, Profile

__all__ = ["ENGINE_VERSION", "DiscoverOptions", "FoundImage", "Profile", "discover_images",
           "helm_opts_from_env"]
