"""The experiments, one configuration per file; installed as ``drlim.experiments``.

Each file starts with the command that runs it. ``drlim list`` shows them all, in the
checkout and after a plain ``pip install``.
"""
