"""``python -m dgr``: the ``dgr`` command line."""
from dgr.cli import main

main()
