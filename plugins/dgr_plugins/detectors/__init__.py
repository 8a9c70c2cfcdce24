"""Detector families: one package per family (``convnet``, ``resnet``, ``clip``, ``ensemble``),
each a light ``__init__`` that registers the name and its ``-o`` options and a heavy
``detector`` module imported by the factory; ``classifier`` is the scoring that the trained
classifier detectors (convnet, resnet) share."""
