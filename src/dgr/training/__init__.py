"""Training of the small models dgr ships (``dgr train generator|detector|clip``); the students of
``dgr evaluate`` train in :mod:`dgr.evaluation.student_training`."""
