"""Generator families: one package per family (``dit``, ``sd``), each a light ``__init__`` that
registers the name and its ``-o`` options and a heavy ``generator`` module imported by the
factory; ``diffusion`` holds what the diffusers generators share."""
