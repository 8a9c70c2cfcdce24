"""An example third-party dgr plugin: the ``margin-diversity`` selection policy."""
from dgr_policy_example.policy import MarginDiversity

__all__ = ["MarginDiversity"]
