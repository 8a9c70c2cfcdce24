"""The one augmentation module: the polish's Siamese draw and the students' per-image DSA draw."""
from __future__ import annotations

import torch

from dgr.augmentation import OPS, SIAMESE_ORDER, dsa_augment, dsa_ops, siamese_augment, siamese_ops, without_flips


def test_both_orders_hold_the_same_ops_and_flips_leave_where_a_dataset_forbids_them():
    assert sorted(SIAMESE_ORDER) == sorted(OPS) and len(set(OPS)) == len(OPS)
    # the op is drawn by index, so each method keeps the order its images and scores were made with
    assert siamese_ops(True) == ("color", "crop", "cutout", "scale", "rotate", "flip")
    assert dsa_ops(True) == ("color", "crop", "cutout", "flip", "scale", "rotate")
    assert siamese_ops(False) == ("color", "crop", "cutout", "scale", "rotate")
    assert dsa_ops(False) == ("color", "crop", "cutout", "scale", "rotate")
    assert without_flips(["flip", "color"], True) == ("flip", "color")


def test_the_polish_draws_its_ops_from_the_augmentation_module():
    from dgr.polishing import PolishSettings

    assert PolishSettings(flips=True).augment_ops == siamese_ops(True)
    assert PolishSettings(flips=False).augment_ops == siamese_ops(False)


def test_siamese_augment_transforms_two_batches_alike_and_dsa_each_image_on_its_own():
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    for op in OPS:
        both = siamese_augment(torch.cat([x, x]), (op,), seed=3)
        assert torch.equal(siamese_augment(x, (op,), seed=3), siamese_augment(x, (op,), seed=3)), op
        assert torch.allclose(both[:6], both[6:]), op  # one draw for the whole batch
    same = x[:1].expand(64, 3, 16, 16)
    torch.manual_seed(0)
    out = dsa_augment(same, ("rotate",))
    assert not all(torch.equal(out[0], o) for o in out[1:])  # parameters drawn per image
