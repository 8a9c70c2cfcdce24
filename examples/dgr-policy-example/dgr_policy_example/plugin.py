"""The plugin module dgr loads through the entry point: it registers factories and imports
nothing heavy (no torch), so `dgr --help` stays fast."""
from __future__ import annotations

import dgr
from dgr_policy_example.policy import MarginDiversity


def make_margin_diversity(context):
    """Factory: ``context.config`` is the parsed ``MarginDiversity`` (``-o weight=0.3``)."""
    return context.config or MarginDiversity()


@dgr.hookimpl
def dgr_register_selection_policies(register):
    # The policy class doubles as its options class: its attrs fields are the -o options.
    register("margin-diversity", make_margin_diversity, config=MarginDiversity,
             summary="top-1 − top-2 margin of the label + λ·uniqueness (example third-party plugin)")
