"""The image task: block occlusion, per-image errors and episode sampling."""

import numpy as np
import pytest
import torch

from ebmm.tasks import Occlusion, hamming_error, occlude, occlude_with_mask, parse_corruption, sample_image_episodes, squared_error


def _changed_block(changed):
    """``changed (H, W)`` bool -> (rows, cols) spanned by the True entries."""
    rows, cols = changed.any(1).nonzero().flatten(), changed.any(0).nonzero().flatten()
    return rows.min().item(), rows.max().item() + 1, cols.min().item(), cols.max().item() + 1


@pytest.mark.parametrize("channels", [1, 3])
def test_zero_occlusion_changes_exactly_one_16x16_block_per_image(gen, channels):
    images = 0.5 + 0.5 * torch.rand(2, 5, channels, 32, 32, generator=gen)  # never 0
    out = occlude(images, 16, "zeros", generator=gen)
    changed = out != images
    assert (out[changed] == 0).all()
    for c in changed.reshape(-1, channels, 32, 32):
        assert (c == c[0]).all()  # every channel
        r0, r1, c0, c1 = _changed_block(c[0])
        assert (r1 - r0, c1 - c0) == (16, 16) and c[0].sum() == 256
    positions = {_changed_block(c[0]) for c in changed.reshape(-1, channels, 32, 32)}
    assert len(positions) > 1  # the block moves


def test_noise_occlusion_stays_in_one_block_and_in_range(gen):
    images = torch.rand(8, 1, 32, 32, generator=gen)
    out = occlude(images, 16, "noise", generator=gen)
    assert out.min() >= 0 and out.max() <= 1
    for c in (out != images)[:, 0]:
        r0, r1, c0, c1 = _changed_block(c)
        assert r1 - r0 <= 16 and c1 - c0 <= 16 and c.sum() > 200


def test_occlusion_is_seeded_and_validated():
    x = torch.rand(3, 1, 32, 32)
    a = occlude(x, generator=torch.Generator().manual_seed(1))
    b = occlude(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="fill"):
        occlude(x, fill="blur")
    with pytest.raises(ValueError, match="block"):
        occlude(x, block=33)


def test_every_fill_writes_what_it_says_inside_the_square_and_nothing_outside(gen):
    images = (torch.rand(64, 1, 32, 32, generator=gen) < 0.2).float()  # binary "ink" at density ~0.2
    density = float(images.mean())
    seen = {}
    for fill in ("noise", "binary", "zeros", "ones"):
        out, hidden = occlude_with_mask(images, 16, fill, generator=torch.Generator().manual_seed(3))
        assert torch.equal(out[~hidden], images[~hidden]) and hidden[:, 0].sum((-2, -1)).eq(256).all()
        inside = out[hidden]
        seen[fill] = inside
        if fill == "noise":
            assert ((inside > 0) & (inside < 1)).float().mean() > 0.99  # values between 0 and 1
        elif fill == "binary":  # 0/1 at the images' own density
            assert set(inside.unique().tolist()) == {0.0, 1.0} and abs(float(inside.mean()) - density) < 0.02
        else:
            assert (inside == (1.0 if fill == "ones" else 0.0)).all()
    # the same generator draws the same squares for every fill: only what fills them differs
    masks = {f: occlude_with_mask(images, 16, f, generator=torch.Generator().manual_seed(3))[1] for f in ("zeros", "ones")}
    assert torch.equal(masks["zeros"], masks["ones"])


def test_mix_and_listed_fills_draw_one_fill_per_image(gen):
    images = torch.full((400, 1, 32, 32), 0.5)  # no pixel of the images is 0, 1 or noise-like by chance
    out, hidden = occlude_with_mask(images, 16, "mix", generator=gen)
    kinds = []
    for square in out[hidden[:, 0:1].expand_as(out)].reshape(400, 256):
        u = square.unique()
        kinds.append("zeros" if u.tolist() == [0.0] else "ones" if u.tolist() == [1.0]
                     else "binary" if set(u.tolist()) <= {0.0, 1.0} else "noise")
    counts = {k: kinds.count(k) for k in ("noise", "binary", "zeros", "ones")}
    assert all(60 < c < 140 for c in counts.values()), counts  # each about a quarter
    listed = occlude(images, 16, "zeros+ones", generator=gen)
    assert set(listed[listed != 0.5].unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("spec, ok", [("binary:16", True), ("ones:8", True), ("mix:16", True), ("noise+binary+zeros:16", True),
                                      ("noise+noise:16", False), ("noise+fog:16", False), ("fog:16", False), ("mix+ones:16", False)])
def test_occlusion_specs_parse_or_say_why(spec, ok):
    if ok:
        occ = parse_corruption(spec)
        assert isinstance(occ, Occlusion) and str(occ) == spec and occ.fills
    else:
        with pytest.raises(ValueError, match="fill|corruption"):
            parse_corruption(spec)
    assert Occlusion("mix", 16).fills == ("noise", "binary", "zeros", "ones")


def test_errors_on_known_images():
    images = torch.zeros(2, 1, 4, 4)
    images[1] = 1.0
    retrieved = images.clone()
    retrieved[0, 0, 0, :3] = 0.7  # 3 pixels cross the threshold
    retrieved[1, 0, 2, 2] = 0.6  # stays above it
    torch.testing.assert_close(hamming_error(retrieved, images), torch.tensor([3.0, 0.0]))
    torch.testing.assert_close(squared_error(retrieved, images), torch.tensor([3 * 0.49, 0.16]))
    batched = retrieved.expand(3, 2, 1, 4, 4)
    assert hamming_error(batched, images).shape == (3, 2)


def test_episode_sampler_draws_distinct_images_and_occludes_them(gen):
    n = 40
    images = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None] / n, (n, 1, 32, 32)).copy()
    stored, queries = sample_image_episodes(images, 3, 10, fill="zeros", generator=gen)
    assert stored.shape == queries.shape == (3, 10, 1, 32, 32)
    ids = (stored[..., 0, 0, 0] * n).round()
    assert all(len(set(row.tolist())) == 10 for row in ids)
    assert ((queries != stored).sum(dim=(-3, -2, -1)) <= 256).all()
    again = sample_image_episodes(images, 3, 10, fill="zeros", generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], stored) and torch.equal(again[1], queries)
    with pytest.raises(ValueError, match="distinct"):
        sample_image_episodes(images, 1, n + 1)


def test_grey_and_patch_fills_hide_the_square_with_a_flat_value_or_another_images_ink():
    """grey: one value per image, uniform in [0, 1], over the whole square; patch: the square of
    the next image of the set; neither is in "mix"; a patch needs a set of at least two."""
    from ebmm.tasks.images import fill_choices, occlude_with_mask

    gen = torch.Generator().manual_seed(0)
    images = (torch.rand(3, 5, 1, 32, 32, generator=gen) < 0.2).float()
    grey, hidden = occlude_with_mask(images, 16, "grey", generator=gen)
    levels = [grey[b, i][hidden[b, i]] for b in range(3) for i in range(5)]
    assert all(int(h.sum()) == 256 for h in hidden.reshape(-1, 1, 32, 32))
    assert all(float(v.max() - v.min()) == 0.0 and 0.0 <= float(v[0]) <= 1.0 for v in levels)
    assert len({round(float(v[0]), 6) for v in levels}) == 15  # a value of its own per image
    patch, hidden = occlude_with_mask(images, 16, "patch", generator=gen)
    torch.testing.assert_close(patch[hidden], images.roll(1, dims=1)[hidden])
    torch.testing.assert_close(patch[~hidden], images[~hidden])
    assert "grey" not in fill_choices("mix") and fill_choices("noise+patch") == ("noise", "patch")
    with pytest.raises(ValueError, match="another image of the set"):
        occlude_with_mask(images[0, :1], 16, "patch", generator=gen)
    with pytest.raises(ValueError, match="patch"):
        fill_choices("smoke")


@pytest.mark.parametrize("spec, ok", [("noise:10%", True), ("invert:5%", True), ("mix:16|noise:10%", True),
                                      ("zeros:8|binary+ones:3%|noise:16", True), ("noise:0%", False), ("noise:101%", False),
                                      ("noise:10%%", False), ("mix:16|", False), ("mix:16|fog:3%", False)])
def test_scattered_and_mixed_occlusion_specs_round_trip_or_say_why(spec, ok):
    if ok:
        occ = parse_corruption(spec)
        assert isinstance(occ, Occlusion) and str(occ) == spec and parse_corruption(str(occ)) == occ
    else:
        with pytest.raises(ValueError, match="occlusion|fill|corruption"):
            parse_corruption(spec)


def test_scattered_occlusion_hides_a_share_of_pixels_anywhere_not_a_square(gen):
    images = (torch.rand(8, 64, 1, 32, 32, generator=gen) < 0.2).float()
    q, hidden = parse_corruption("zeros:10%").corrupt(images, generator=gen)
    share = hidden.float().mean().item()
    assert 0.09 < share < 0.11, share
    rows_hit = hidden.any(-1).sum(-1).float().mean().item()  # a 16×16 square touches 16 rows; scattered pixels nearly all 32
    assert rows_hit > 30, rows_hit
    assert (q[hidden] == 0).all() and torch.equal(q[~hidden], images[~hidden])
    # invert: every hidden pixel of binary images comes back wrong, and nothing else does
    q, hidden = parse_corruption("invert:5%").corrupt(images, generator=gen)
    torch.testing.assert_close(hamming_error(q, images), hidden.flatten(-3).sum(-1).float())
    # the curriculum scales a percentage like a side
    assert str(parse_corruption("mix:16|noise:10%").with_count(8)) == "mix:8|noise:5%"


def test_a_mixture_of_occlusions_gives_each_image_one_of_them(gen):
    images = torch.full((4, 64, 1, 32, 32), 0.5)
    q, hidden = parse_corruption("zeros:16|ones:10%").corrupt(images, generator=gen)
    per_image = hidden.flatten(-3).sum(-1)
    square = per_image == 256
    zeros_only = (q == 0).flatten(-3).any(-1) & ~(q == 1).flatten(-3).any(-1)
    ones_only = (q == 1).flatten(-3).any(-1) & ~(q == 0).flatten(-3).any(-1)
    assert torch.equal(square, zeros_only) and torch.equal(~square, ones_only)  # never both in one image
    assert 0.3 < square.float().mean().item() < 0.7  # about half each
    again = parse_corruption("zeros:16|ones:10%").corrupt(images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], parse_corruption("zeros:16|ones:10%").corrupt(images, generator=torch.Generator().manual_seed(0))[0])
    with pytest.raises(ValueError, match="does not fit"):
        from ebmm.tasks.episodes import check_corruption

        check_corruption("noise:10%|zeros:40", (1, 32, 32))
