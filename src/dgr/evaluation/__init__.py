"""Evaluation of distilled sets: train a student on them, score it on the real test split.

``students`` (a registered student by name; the networks are in :mod:`dgr.models.students`),
``student_training`` (the loop, augmentation, KD), ``protocols`` (dc, minimax, rded presets), ``baselines``
(random-real, k-means real, unrefined, full) and ``runner`` (what ``dgr evaluate`` calls). Nothing
heavy at import.
"""
