"""The old path of the student training loop, kept for scripts that import it: the loop lives in
:mod:`dgr.evaluation.student_training` (``dgr.training`` trains the models dgr ships)."""
from dgr.evaluation.student_training import (SCORE_BATCH, Score, Stats, accuracy, cutmix, dataset_stats,
                                             fit_and_score, labelled_predictions, micro_batches, predictions,
                                             saved_activation_bytes, scores, soft_loss, train_student, unit_float)

__all__ = ["SCORE_BATCH", "Score", "Stats", "accuracy", "cutmix", "dataset_stats", "fit_and_score",
           "labelled_predictions", "micro_batches", "predictions", "saved_activation_bytes", "scores", "soft_loss",
           "train_student", "unit_float"]
