"""A third-party dgr dataset plugin: ``csv-images``."""
