"""Converting a catalogue app's ``init.sh`` into a declarative ``clusterbuild.yaml``.

    conversion = convert_init_sh(script, "cert-manager")    # never runs the script
    print(conversion.yaml_text, *conversion.skipped, sep="\n")
    write_conversion(app_dir, conversion)                    # InputError if clusterbuild.yaml exists

The script is parsed (``lexer``, ``syntax``, ``nodes``), read in run order with its variables
evaluated to jinja templates (``walk``, ``expand``, ``values``, ``idioms``), and each command is
converted (``commands``, ``files``, ``yq``) into what it leaves in the app dir (``collect``):
Helm repo charts (by chart version or by app version), manifests, per-arch binaries (arch maps
included), files by URL, values edits and extra images. Every converted command is listed in
``Conversion.converted`` with what it became; every other command in ``Conversion.skipped`` with
its line and the reason: "not needed (...)" for checks, messages and cleanup, "not convertible
(...)" for what must be done by hand, "not evaluated (...)" for conditions whose branches were
all converted. Plain assignments are evaluated rather than listed; one that reads a command's
output is listed, and so is each command that then depends on it.
"""

from clusterbuild.importer.conversion import Conversion, convert_init_sh, write_conversion

__all__ = ["Conversion", "convert_init_sh", "write_conversion"]
