"""Training of the small models dgr ships (``dgr train generator|detector``)."""
