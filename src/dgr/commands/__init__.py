"""Every ``dgr`` command, one module each (distill, plugins, list, train, evaluate, report);
:mod:`dgr.cli` only assembles them. Each imports only light modules at import time."""
