"""The memory-based trust (energies.disagreement): the untrained detector is its rule, the
slot ranking survives a covered square, the auxiliary loss trains the detector, and the free
protocol tells no memory where the square is."""

import pytest
import torch

from ebmm.config import TrainConfig
from ebmm.energies import ImageSlotEnergy, split_params
from ebmm.energies.disagreement import Disagreement, detect, rank_slots, whitener
from ebmm.energies.gaussian_fill import residual_precision
from ebmm.evaluation.images import evaluate_images
from ebmm.memory import AssociativeMemory
from ebmm.meta.step import param_multipliers
from ebmm.tasks import ImageTask, Occlusion


def test_the_untrained_detector_is_its_rule_and_trusts_agreeing_pixels(gen):
    det = Disagreement((1, 8, 8), hidden=4, threshold=0.5, slope=20.0)
    d = torch.rand(3, 64, generator=gen)
    q = d.clone()
    q[:, :10] = 1.0 - (d[:, :10] > 0.5).float()  # these pixels disagree with the stored image by > 0.5
    q[:, :10] = torch.where((q[:, :10] - d[:, :10]).abs() > 0.6, q[:, :10], 1 - d[:, :10].round())
    logits = det(q, d)
    torch.testing.assert_close(logits, det.rule(q, d))
    gap = (q - d).abs()
    assert bool((logits[gap < 0.4] > 0).all()) and bool((logits[gap > 0.6] < 0).all())
    # the static-dict form is the same function, and its gradient reaches every detector weight
    static = {"det." + n: p.detach().clone().requires_grad_() for n, p in det.named_parameters()}
    out = detect(det, static, "det.", q, d)
    torch.testing.assert_close(out, logits)
    torch.testing.assert_close(det.rule(q, d, static, "det."), logits)
    grads = torch.autograd.grad(out.sigmoid().sum(), list(static.values()), allow_unused=True)
    assert all(g is not None for g in grads)  # the last layer is zero, but its gradient is not
    with pytest.raises(ValueError, match="hidden"):
        Disagreement((1, 8, 8), hidden=0)


def test_colour_images_get_one_trust_per_pixel_for_every_channel(gen):
    det = Disagreement((3, 4, 4), hidden=4)
    with torch.no_grad():
        det.net[-1].weight.normal_(generator=gen)
    logits = det(torch.rand(2, 48, generator=gen), torch.rand(2, 48, generator=gen)).reshape(2, 3, 16)
    torch.testing.assert_close(logits[:, 0], logits[:, 1])
    torch.testing.assert_close(logits[:, 0], logits[:, 2])


def test_the_whitener_is_the_square_root_of_the_precision(gen):
    images = (torch.rand(300, 1, 6, 6, generator=gen) > 0.7).float()
    mean = images.flatten(1).mean(0)
    rows = torch.linalg.qr(torch.randn(36, 5, generator=gen))[0].T
    lam = residual_precision(images, mean, rows, 1e-2).double()
    root = whitener(lam)
    torch.testing.assert_close(root @ root, lam, rtol=1e-6, atol=1e-6 * float(lam.abs().max()))
    torch.testing.assert_close(root, root.T)


@pytest.mark.parametrize("fill", ["noise", "binary", "zeros", "ones"])
def test_the_ranking_keeps_the_stored_image_among_the_first_candidates_whatever_covers_it(gen, fill):
    """Stored images are distinct random ink; a query covers a quarter of one of them. The clipped
    whitened distance ranks its own image first for most queries, and among the first 4 for all."""
    x = (torch.rand(32, 1, 16, 16, generator=gen) < 0.2).float()
    q, _ = Occlusion(fill, 8).corrupt(x, generator=gen)
    root = torch.eye(256) * 3.0  # a diagonal precision: 1/σ² = 9 per pixel
    top, cost = rank_slots(q.flatten(1), x.flatten(1), root, clip=16.0, k=4)
    assert bool((cost[:, :-1] <= cost[:, 1:]).all())
    own = torch.arange(32).unsqueeze(-1)
    assert top.shape == (32, 4) and bool((top == own).any(-1).all())
    assert float((top[:, 0] == own[:, 0]).float().mean()) > 0.9


def _memory_trust_episode(gen, fill: str, **kwargs):
    """A small untrained memory-trust energy, its slow weights (requiring grad), two episodes of
    4 random binary 8×8 images written into slots of their own (half their codes, as the write
    leaves them) and their queries occluded by ``fill``."""
    energy = ImageSlotEnergy(dim=64, shape=(1, 8, 8), slots=4, code=6, trust="memory", residual="gaussian", residual_ridge=1e-2,
                             init_scale=1e-2, write_norm=4.0, init="random", detector_hidden=4, **kwargs)
    static = {n: p.requires_grad_() for n, p in split_params(energy)[0].items()}
    x = (torch.rand(2, 4, 1, 8, 8, generator=gen) > 0.7).float()
    q, _ = Occlusion(fill, 4).corrupt(x, generator=gen)
    codes = torch.einsum("bnd,cd->bnc", x.flatten(-3) - static["pixel_mean"], static["encoder.weight"])
    return energy, static, {"memory.weight": 0.5 * codes.detach()}, x, q


def test_the_auxiliary_loss_trains_the_detector_only_with_the_memory_trust(gen):
    energy, static, theta, x, q = _memory_trust_episode(gen, "ones")
    loss = energy.read_auxiliary_loss(static, theta, x, q)
    assert loss.dim() == 0 and float(loss.detach()) > 0
    grads = dict(zip(static, torch.autograd.grad(loss, list(static.values()), allow_unused=True)))
    assert all(grads[n] is not None and grads[n].abs().sum() > 0 for n in static if n.startswith("detector.") and "net.8" in n)
    # a masked-out pattern does not count; weight 0 or another trust gives no term
    masked = energy.read_auxiliary_loss(static, theta, x, q, mask=torch.tensor([[1.0, 1, 1, 1], [1, 1, 1, 1]]))
    torch.testing.assert_close(masked, loss)
    plain = ImageSlotEnergy(dim=64, shape=(1, 8, 8), slots=4, code=6, trust="binary", residual="gaussian")
    assert plain.read_auxiliary_loss(*split_params(plain), x, q) is None
    with pytest.raises(ValueError, match="needs residual='gaussian'"):
        ImageSlotEnergy(dim=64, shape=(1, 8, 8), code=6, trust="memory")
    with pytest.raises(ValueError, match="detector_tolerance"):
        ImageSlotEnergy(dim=64, shape=(1, 8, 8), code=6, trust="memory", residual="gaussian", detector_tolerance=0.0)


def test_prefixed_learning_rates_pick_out_the_detector():
    params = {"static": {"encoder.weight": torch.zeros(1), "detector.net.0.weight": torch.zeros(1)}, "read": {"g": torch.zeros(1)}}
    cfg = TrainConfig(group_lr={"static": 0.1, "static/detector.": 10.0, "read": 3.0})
    mult = param_multipliers(params, cfg)
    assert mult == {"static": {"encoder.weight": 0.1, "detector.net.0.weight": 10.0}, "read": {"g": 3.0}}
    with pytest.raises(ValueError, match="GROUP/PREFIX"):
        param_multipliers(params, TrainConfig(group_lr={"static/decoder.": 2.0}))



def test_the_slots_preset_trains_every_parameter_its_auxiliary_loss_reaches(gen):
    """The slots preset freezes the data-derived slow weights; the matcher and the detector, which
    the auxiliary loss trains, must not be frozen with them (a frozen matcher is the ranking alone)."""
    from ebmm.presets import image_preset

    mcfg, tcfg = image_preset("slots", "image_slots", "omniglot", (1, 8, 8), 64 * 6, patterns=4)
    kw = {**mcfg.energy.kwargs, "init": "random", "detector_hidden": 4}
    energy = ImageSlotEnergy(dim=64, **kw)
    static = {n: p.requires_grad_() for n, p in split_params(energy)[0].items()}
    x = (torch.rand(2, 4, 1, 8, 8, generator=gen) > 0.7).float()
    q, _ = Occlusion("mix", 4).corrupt(x, generator=gen)
    codes = torch.einsum("bnd,cd->bnc", x.flatten(-3) - static["pixel_mean"], static["encoder.weight"])
    loss = energy.read_auxiliary_loss(static, {"memory.weight": 0.5 * codes.detach()}, x, q)
    grads = dict(zip(static, torch.autograd.grad(loss, list(static.values()), allow_unused=True)))
    reached = {n for n, g in grads.items() if g is not None and g.abs().sum() > 0}
    assert any(n.startswith("matcher.") for n in reached) and any(n.startswith("detector.") for n in reached)
    groups = {"static": static, **{g: {"x": torch.zeros(1)} for g in ("init", "read", "write")}}
    mult = param_multipliers(groups, tcfg)["static"]
    learned = {n for n in reached if n.startswith(("matcher.", "detector."))}
    assert {n for n in learned if mult[n] == 0} == set()  # the data-derived code and mean stay frozen on purpose

class _SpyModel:
    """A model that returns its queries and records what each read was told."""

    kind = "spy"
    dim = 64
    max_patterns = None
    event_shape = (1, 8, 8)
    clamps_in_read = True

    def __init__(self):
        self.told = []

    def config_dict(self):
        return {}

    def memory_size(self):
        return 1

    def write(self, params, patterns):
        return {"x": patterns}

    def read(self, params, state, queries, trajectory, known=None):
        self.told.append(known)
        return queries.unsqueeze(1) if trajectory else queries


def test_the_free_protocol_tells_no_memory_where_the_square_is(gen):
    task = ImageTask((torch.rand(64, 1, 8, 8, generator=gen) > 0.7).float(), (torch.rand(64, 1, 8, 8, generator=gen) > 0.7).float(),
                     Occlusion("zeros", 4), "hamming")
    model = _SpyModel()
    spy = AssociativeMemory(model, {}, name="spy")
    free = evaluate_images(spy, task, 4, Occlusion("ones", 4), min_patterns=8, min_batches=2)
    assert model.told and all(k is None for k in model.told)
    model.told.clear()
    clamped = evaluate_images(spy, task, 4, Occlusion("ones", 4), min_patterns=8, min_batches=2, clamp_known=True)
    assert model.told and all(k is not None and k.dtype == torch.bool and not bool(k.all()) for k in model.told)
    assert free.mean == clamped.mean > 0  # the spy returns its queries either way: same images, same squares


def test_frozen_parameters_can_be_constants_of_the_meta_step(gen):
    """grad_frozen=False: the parameters with a zero learning-rate multiplier get no gradient (so
    the backward pass skips what only they reach); the others get the same gradient as before."""
    from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig
    from ebmm.meta.step import MetaStep
    from ebmm.models.ebmm import EBMM

    mcfg = MemoryConfig(energy=EnergyConfig("logcosh", 16, {"hidden": 8, "static_hidden": 0, "init_scale": 0.1}),
                        read=ReadConfig(steps=2, step_init=0.3), write=WriteConfig(steps=2, rate_init=0.1), max_patterns=4)
    model = EBMM.from_config(mcfg)
    params = model.init_params(0)
    x = (torch.rand(2, 4, 16, generator=gen) > 0.5).float()
    q = x.clone()
    q[..., :4] = 0.5
    full, loss_full, _ = MetaStep(model, compile=False)(params, x, q)
    frozen = frozenset(("static", n) for n in params["static"]) | frozenset(("write", n) for n in params["write"])
    part, loss_part, _ = MetaStep(model, compile=False, frozen=frozen)(params, x, q)
    torch.testing.assert_close(loss_part, loss_full)
    for g, d in params.items():
        for n in d:
            if (g, n) in frozen:
                assert not part[g][n].any()
            else:
                torch.testing.assert_close(part[g][n], full[g][n])


def test_the_untrained_matcher_chooses_the_rankings_first_candidate_and_learns_from_the_auxiliary_loss(gen):
    from ebmm.energies.disagreement import Matcher

    matcher = Matcher((1, 8, 8), hidden=4)
    q, cand = torch.rand(5, 64, generator=gen), torch.rand(5, 3, 64, generator=gen)
    cost = torch.rand(5, 3, generator=gen) * 100
    scores = matcher(q, cand, cost)
    assert scores.shape == (5, 3) and torch.equal(scores.argmax(-1), cost.argmin(-1))
    energy, static, theta, x, q = _memory_trust_episode(gen, "zeros", matcher=True, candidates=3)
    loss = energy.read_auxiliary_loss(static, theta, x, q)
    names = [n for n in static if n.startswith("matcher.")]
    grads = torch.autograd.grad(loss, [static[n] for n in names])
    assert any(g.abs().sum() > 0 for g in grads)  # the choice among the candidates is trained
    cond = energy.condition_read({n: t.detach() for n, t in static.items()}, theta, q)
    assert cond.start.shape == q.shape and cond.held.dtype == torch.bool
    with pytest.raises(ValueError, match="matcher"):
        ImageSlotEnergy(dim=64, shape=(1, 8, 8), code=6, trust="binary", residual="gaussian", matcher=True)


@pytest.mark.parametrize("trust", ["memory", "binary"])
def test_told_the_intact_pixels_the_read_trusts_exactly_those(gen, trust):
    """The clamped protocol: with ``known`` the read holds the known pixels and fills every other
    one — its own judgement (detector or value rule) does not hold a covered pixel."""
    from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig
    from ebmm.models.ebmm import EBMM

    kwargs = {"shape": [1, 8, 8], "slots": 4, "code": 6, "trust": trust, "residual": "gaussian", "residual_ridge": 1e-2,
              "init_scale": 1e-2, "write_norm": 4.0, "init": "random", "beta": 1e3}
    if trust == "memory":
        kwargs["detector_hidden"] = 4
    mcfg = MemoryConfig(energy=EnergyConfig("image_slots", 64, kwargs), read=ReadConfig(steps=3, step_init=0.5),
                        write=WriteConfig(steps=1, rate_init=0.5, terms=("energy",), reduction="sum", chunk=1), max_patterns=4)
    arch = EBMM.from_config(mcfg)
    params = arch.init_params()
    x = (torch.rand(2, 4, 1, 8, 8, generator=gen) > 0.7).float()
    q, hidden = Occlusion("binary", 4).corrupt(x, generator=gen)  # 0/1 values: the value rule would trust them all
    theta = arch.write(params, x)
    cond = arch.energy.condition_read(params["static"], theta, q, ~hidden)
    assert torch.equal(cond.held, ~hidden)
    out = arch.read(params, theta, q, False, known=~hidden)
    assert torch.equal(out[~hidden], q[~hidden]) and not torch.equal(out[hidden], q[hidden])


def test_gap_features_cannot_tell_a_fill_by_which_way_it_departs_from_the_stored_image(gen):
    """With features='gap' the detector and matcher see only the decoded slot and |q − d|: a query
    above the stored image and one the same amount below get the same trust and the same score;
    the 'query' networks see the values and tell them apart (random last layers, so the networks count)."""
    from ebmm.energies.disagreement import Matcher

    d = torch.rand(3, 64, generator=gen) * 0.5 + 0.25
    delta = torch.rand(3, 64, generator=gen) * 0.25
    for features, same in (("gap", True), ("query", False)):
        torch.manual_seed(0)
        det, match = Disagreement((1, 8, 8), hidden=4, features=features), Matcher((1, 8, 8), hidden=4, features=features)
        for module in (det.net[-1], match.net[-1]):
            torch.nn.init.normal_(module.weight)
        up, down = det(d + delta, d), det(d - delta, d)
        cost = torch.rand(3, 2, generator=gen)
        s_up, s_down = match(d + delta, torch.stack([d, d.flip(0)], 1), cost), match(d - delta, torch.stack([d, d.flip(0)], 1), cost)
        assert torch.allclose(up, down) is same
        assert torch.allclose(s_up[:, 0], s_down[:, 0]) is same
    with pytest.raises(ValueError, match="features"):
        Disagreement((1, 8, 8), features="values")


def test_gap_certainty_features_see_a_value_and_its_flip_alike(gen):
    """With features 'gap_certainty' the networks see (d, |q − d|, |2q − 1|): where the stored
    image is grey (d = ½) a query and its 0↔1 flip look the same, ink and background alike."""
    d = torch.full((3, 64), 0.5)
    q = (torch.rand(3, 64, generator=gen) > 0.5).float()
    for features, same in (("gap_certainty", True), ("gap", True), ("query", False)):
        torch.manual_seed(0)
        det = Disagreement((1, 8, 8), hidden=4, features=features)
        torch.nn.init.normal_(det.net[-1].weight)
        assert torch.allclose(det(q, d), det(1 - q, d)) is same, features
