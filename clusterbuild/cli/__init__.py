"""The thin command line: parse options, call ``workflow``, print, turn errors into exit codes."""
