"""Named configurations for ``ebmm train`` (``--preset``), so the shipped memories are
reproducible by one command. Individual CLI options override a preset's fields."""

from __future__ import annotations

from dataclasses import replace as _replace

from .config import EnergyConfig, MemoryConfig, ReadConfig, TrainConfig, WriteConfig

PRESETS: dict[str, tuple[MemoryConfig, TrainConfig]] = {
    # The paper's architecture and optimiser (appendix B.1): gated RNN, hidden 1024, 5 hops.
    "paper": (
        MemoryConfig(
            energy=EnergyConfig("gated_rnn", 128, {"hidden": 1024, "memory_units": 63, "hops": 5}),
            read=ReadConfig(steps=10, step_init=0.1),
            write=WriteConfig(steps=5, rate_init=1e-4),
        ),
        TrainConfig(lr=5e-5, weight_decay=1e-6, clip_norm=0.05, steps=2_000_000),
    ),
    # Our CPU-budget recipe: log-cosh energy (8256 writable floats) initialised so that the
    # untrained memory already behaves like a Hebbian network (small θ̄, write rate 0.002 on
    # the *summed* writing loss, read step 0.3: 6.2 / 9.0 / 12.8 / 15.2 error bits at
    # N = 16 / 32 / 64 / 96 before any training, against ≈ 33 with the paper's 1e-4 rates),
    # trained over N in [16, 96], higher lr with cosine decay, looser clipping, a slightly
    # leaky projection.
    "fast": (
        MemoryConfig(
            energy=EnergyConfig("logcosh", 128, {"hidden": 64, "static_hidden": 0, "init_scale": 0.1}),
            read=ReadConfig(steps=10, step_init=0.3, train_leak=0.1),
            write=WriteConfig(steps=5, rate_init=0.002, reduction="sum"),
        ),
        TrainConfig(patterns=96, min_patterns=16, lr=1e-3, lr_schedule="cosine", final_lr_fraction=0.1,
                    warmup_steps=100, clip_norm=1.0, steps=20_000, compile=True),
    ),
    # The slot energy (energies.slots): 96 writable slots of 86 floats = 8256, Euclidean
    # similarity, written one pattern per gradient step (chunk = 1) so that each pattern takes a
    # free slot of its own, read by least squares through the slow encoder. Initialised so that
    # the untrained memory already retrieves: β = 1e5, θ̄ ~ N(0, 0.001²), write rate ω = 0.5 (a
    # slot moves half way to its pattern's code), μ = ω (the read's fixed point is the stored
    # code), writing-energy slot-norm factor λ = 2.4 (a new pattern avoids a written slot unless
    # its overlap with that slot's pattern exceeds λω/2 = 0.6, while a query is captured by a
    # free slot only below ω/2 = 0.25), read step 0.24 with momentum 0.85. Untrained, 10,000
    # held-out patterns per N = 16/32/48/64/96: erase:64 0.012/0.013/0.016/0.014/0.013 error
    # bits, replace:64 0.28/0.31/0.35/0.42/0.59. The (ω, λ) sweep: ω 0.8, λ 1 (the energy
    # itself) 0.079/0.131/0.182/0.221/0.301 under erase; ω 0.8, λ 1.5 0.053/0.042/0.060/0.056/
    # 0.015; ω 0.6, λ 2 0.013/0.014/0.018/0.014/0.013; ω 0.4, λ 3 0.012/0.012/0.016/0.014/0.017.
    "slots": (
        MemoryConfig(
            energy=EnergyConfig("slots", 128, {"slots": 96, "code": 86, "beta": 1e5, "curvature": 0.5, "init_scale": 1e-3,
                                               "write_norm": 2.4}),
            read=ReadConfig(steps=10, step_init=0.24, momentum_init=0.85, decay_logit_init=6.0),
            write=WriteConfig(steps=1, rate_init=0.5, terms=("energy",), reduction="sum", chunk=1),
        ),
        # The write rate is frozen: with λ it sets the two thresholds above, discrete failures
        # the meta-gradient cannot see (trained with λ = 1, ω drifted towards large N: N = 16
        # 0.16 → 0.37 error bits while N = 96 went 0.25 → 0.12). Step sizes learn 10× faster
        # than weights. The meta-gradient's norm is heavy-tailed (5 to 3·10⁶, median 7.5·10³
        # over a run: near-ties in the sharp softmax), so it is clipped at 3× its running
        # median, and only a 1000× spike is skipped (a guard at 10× skipped half of all steps).
        TrainConfig(patterns=96, min_patterns=16, lr=3e-4, group_lr={"write": 0.0, "read": 10.0}, lr_schedule="cosine",
                    final_lr_fraction=0.1, warmup_steps=100, clip_norm=0.0, clip_relative=3.0, spike_factor=1000.0, steps=3_000,
                    eval_every=250, eval_episodes=64, checkpoint_every=250),
    ),
    # Compressive slots (energies.compressive_slots): one slot per stored pattern, the code width
    # following how many are held (c = min(128, ⌊8256 / N⌋): 128 floats up to N = 64, 86 at 96,
    # 64 / 51 / 43 / 32 at 128 / 160 / 192 / 256), written in one matrix product, read by
    # least squares through the encoder plus the query's own evidence (an ℓ1 pull towards each
    # query entry weighted by its confidence |2q − 1|, η = 1). Untrained, 512 held-out patterns
    # per N, K = 20, N = 16/64/96/128/160/192/256: erase:64 0.00/0.00/0.00/0.00/0.05/1.01/9.86
    # error bits. Meta-trained over N in [16, 256], with the episode-averaged loss.
    "compressive": (
        MemoryConfig(
            energy=EnergyConfig("compressive_slots", 128, {"budget": 8256, "capacity": 512, "beta": 1e5, "curvature": 1.0,
                                                           "anchor": 1.0, "anchor_norm": 1}),
            read=ReadConfig(steps=20, step_init=0.24, momentum_init=0.85, decay_logit_init=6.0),
            write=WriteConfig(steps=1, rate_init=1.0, terms=("energy",), reduction="sum"),
            max_patterns=512,
        ),
        TrainConfig(patterns=256, min_patterns=16, lr=3e-4, group_lr={"read": 10.0}, lr_schedule="cosine",
                    final_lr_fraction=0.1, warmup_steps=50, clip_norm=0.0, clip_relative=3.0, spike_factor=1000.0, steps=1_000,
                    eval_every=250, eval_episodes=16, eval_patterns=(16, 96, 160, 256), checkpoint_every=250),
    ),
    # Tiny and quick: for tests and smoke runs.
    "tiny": (
        MemoryConfig(
            energy=EnergyConfig("logcosh", 32, {"hidden": 16, "static_hidden": 0, "init_scale": 0.1}),
            read=ReadConfig(steps=5, step_init=0.3, train_leak=0.1),
            write=WriteConfig(steps=3, rate_init=0.1),
            max_patterns=8,
        ),
        TrainConfig(patterns=8, episodes=8, distortion="erase:16", lr=1e-2, clip_norm=1.0,
                    steps=200, eval_every=50, checkpoint_every=50, log_every=10),
    ),
}


# The same memory trained under replace:64 queries (a query's corrupted bits look valid).
PRESETS["slots-replace"] = (PRESETS["slots"][0], _replace(PRESETS["slots"][1], distortion="replace:64"))
# Under replace:64 every query entry is 0 or 1 and a quarter of them are wrong: a weak pull at
# full width (η = 0.02) that grows as the code narrows (b = 2), 30 read steps; the pull's two
# numbers learn 30× faster than the other slow weights (at 1× they had not moved in 250 steps).
# Untrained, 512 patterns per N = 96/128/160/192/256: b = 0: 0.74/5.63/18.8/26.4/33.2 error
# bits; b = 2: 0.74/5.04/19.5/27.1/32.7; b = 4: 0.73/10.0/25.0/29.5/31.9 (η = 0.3, b = 0:
# 0.79/10.7/22.3/27.6/32.6; K = 100 changes little). Past N = 128 a code of ≤ 51 floats cannot
# locate 32 wrong bits among 128, and the read stays near the query. So the code narrows to no
# less than 64 floats (min_width): the memory holds the newest 129 patterns well rather than all
# of them badly (benchmarks/compressive_floor.py; the shipped file adds the read's novelty test).
_compressive = PRESETS["compressive"][0]
PRESETS["compressive-replace"] = (
    _replace(_compressive, energy=_replace(_compressive.energy, kwargs={**_compressive.energy.kwargs, "anchor": 0.02,
                                                                        "anchor_slope": 2.0, "min_width": 64}),
             read=_replace(_compressive.read, steps=30)),
    _replace(PRESETS["compressive"][1], distortion="replace:64", steps=400, group_lr={"read": 10.0, "static/anchor": 30.0}),
)


#: Meta-training of the learned baselines (``ebmm train binary --model KIND``): the same episodes,
#: distortion and evaluation as EBMM, an optimiser setting that suits small recurrent/attention
#: models (AdamW 1e-3 with cosine decay, clipping at 1.0).
BASELINE_TRAIN = TrainConfig(patterns=96, min_patterns=16, lr=1e-3, lr_schedule="cosine", final_lr_fraction=0.1, warmup_steps=100,
                             clip_norm=1.0, steps=5_000)


#: Image memories (``ebmm train images --preset``): energy kwargs per energy kind, plus the
#: memory and training settings. ``memory_width`` comes from the requested memory size
#: (:func:`ebmm.energies.writable_width_for`) and ``dim`` from the data set.
IMAGE_PRESETS: dict[str, tuple[dict[str, dict], MemoryConfig, TrainConfig]] = {
    # Appendix B.2 / B.3 at full width, the paper's optimiser, 64 images per episode.
    "paper": (
        {"resnet_fc": {"hidden": 512, "hops": 3}, "resnet_conv": {"hidden": 128, "hops": 3, "gru_kernel": 3}},
        MemoryConfig(read=ReadConfig(steps=5, step_init=1.0), write=WriteConfig(steps=5, rate_init=1e-4), max_patterns=64),
        TrainConfig(task="images", dataset="omniglot", patterns=64, episodes=16, distortion="noise:16", lr=5e-5, weight_decay=1e-6,
                    clip_norm=0.05, steps=2_000_000, eval_every=1000, checkpoint_every=500),
    ),
    # CPU budget: narrower hops (a 1×1 conv-GRU), T = 3 on the summed writing loss with a
    # larger initial rate, 2 episodes per step. Untrained, a read step of 1 leaves an
    # occluded Omniglot query as it is (≈ 128 Hamming error under noise:16 either way); a
    # 40-step run at N = 16 already brings it to ≈ 52.
    "fast": (
        {"resnet_fc": {"hidden": 128, "hops": 3}, "resnet_conv": {"hidden": 32, "hops": 3, "gru_kernel": 1}},
        MemoryConfig(read=ReadConfig(steps=5, step_init=1.0), write=WriteConfig(steps=3, rate_init=1e-3, reduction="sum"),
                     max_patterns=64),
        TrainConfig(task="images", dataset="omniglot", patterns=64, episodes=2, distortion="noise:16", lr=3e-3, lr_schedule="cosine",
                    final_lr_fraction=0.1, warmup_steps=20, clip_norm=1.0, steps=2000, eval_every=100,
                    eval_episodes=4, checkpoint_every=50, log_every=5),
    ),
    # The image slot energy (energies.image_slots): one slot per stored image (64), the code
    # size from the memory budget (2308 floats -> 36 per slot, 9232 -> 144), written one image per
    # gradient step like the binary slot memory (λ = 4 and θ̄'s scale 1e-2 keep every image in a
    # slot of its own), the encoder and pixel centre started from the training images' principal
    # directions and mean, the residual precision Λ from what that code misses. The read finds the
    # covered square from the query and the written slots, not told where it is (trust="memory",
    # energies.disagreement): it ranks the slots by a clipped whitened distance, a matcher picks
    # the stored image among the first 8, a detector trusts the query's pixels that agree with it,
    # and the Gaussian residual fills the others. Meta-training (on mix:16, every fill) trains the
    # matcher and the detector by the energy's auxiliary loss; the other slow weights stay at their
    # data-derived start (training them too made held-out error worse: 50 -> 63 in 80 steps), and
    # are constants of the step (grad_frozen=False). The write rate is frozen for the reason the
    # binary preset gives. Numbers: docs/image-memories.md, "Image memories that find the occlusion themselves".
    "slots": (
        {"image_slots": {"beta": 1e4, "curvature": 1e-3, "pixel_curvature": 0.5, "init_scale": 1e-2, "write_norm": 4.0,
                         "sharpen": 0.3, "read_norm": 1.0, "init": "pca", "decode_scale": 2.0}},
        MemoryConfig(read=ReadConfig(steps=10, step_init=0.5, momentum_init=0.5, decay_logit_init=6.0),
                     write=WriteConfig(steps=1, rate_init=0.5, terms=("energy",), reduction="sum", chunk=1), max_patterns=64),
        TrainConfig(task="images", dataset="omniglot", patterns=64, episodes=4, distortion="mix:16", lr=3e-4,
                    group_lr={"write": 0.0, "read": 0.0, "init": 0.0, "static": 0.0, "static/detector.": 10.0, "static/matcher.": 10.0}, lr_schedule="cosine",
                    final_lr_fraction=0.1, warmup_steps=50, clip_norm=0.0, clip_relative=3.0, spike_factor=1000.0, steps=2000,
                    eval_every=100, eval_episodes=8, checkpoint_every=100, log_every=10, grad_frozen=False),
    ),
    # Smoke runs and tests: 8 images per episode, one episode per step.
    "tiny": (
        {"resnet_fc": {"hidden": 64, "hops": 1}, "resnet_conv": {"hidden": 16, "hops": 1, "gru_kernel": 1}},
        MemoryConfig(read=ReadConfig(steps=3, step_init=1.0), write=WriteConfig(steps=2, rate_init=1e-3, reduction="sum"),
                     max_patterns=8),
        TrainConfig(task="images", dataset="omniglot", patterns=8, episodes=1, distortion="noise:16", lr=3e-3, clip_norm=1.0, steps=20,
                    eval_every=10, eval_episodes=2, checkpoint_every=10, log_every=5),
    ),
}


def image_preset(name: str, energy: str, dataset: str, image_shape: tuple[int, int, int],
                 memory_floats: int, data_path: str = "", patterns: int | None = None) -> tuple[MemoryConfig, TrainConfig]:
    """The configs of an image memory: preset ``name`` with ``energy`` (``resnet_fc`` or
    ``resnet_conv``) at the writable width nearest ``memory_floats``, for images of
    ``image_shape (C, H, W)`` from ``dataset``; ``patterns`` the most images per episode
    (default the preset's; the image slot energy has one slot per image)."""
    import dataclasses

    from .energies import writable_width_for

    if name not in IMAGE_PRESETS:
        raise ValueError(f"unknown image preset {name!r}; choose one of {sorted(IMAGE_PRESETS)}")
    kwargs, mcfg, tcfg = IMAGE_PRESETS[name]
    if patterns is not None:  # the most images an episode stores (the image slot energy: its slots)
        mcfg = dataclasses.replace(mcfg, max_patterns=patterns)
    if energy not in kwargs:
        raise ValueError(f"the {name!r} image preset has the energies {sorted(kwargs)}, not {energy!r}")
    c, h, w = image_shape
    if energy == "image_slots":  # one slot per stored image, the code from the budget
        slots = mcfg.max_patterns
        if memory_floats < slots:
            raise ValueError(f"{memory_floats} floats cannot hold {slots} slots")
        ekw = {**kwargs[energy], "shape": [c, h, w], "slots": slots, "code": min(memory_floats // slots, c * h * w)}
        from .data import DATASET_METRIC

        # the read trusts the query's pixels that agree with the stored image it copies (trust="memory",
        # energies.disagreement: whatever fills the square), fills the others by the Gaussian residual
        # over each query's 8 likeliest slots; a pixel "agrees" within 0.5 on binarised data, 0.1 on grey/colour
        tolerance = 0.1 if DATASET_METRIC.get(dataset) == "squared" else 0.5
        ekw.update(trust="memory", residual="gaussian", sharpen=0.0, candidates=8, detector_tolerance=tolerance, matcher=True)
        # distrust every pixel next to a distrusted one (an occluder is a region), chosen on the training
        # splits of Omniglot and natural patches (benchmarks/occluder_region.py)
        ekw.update(region=3, region_share=0.1)
        return (dataclasses.replace(mcfg, energy=EnergyConfig(energy, c * h * w, ekw)),
                dataclasses.replace(tcfg, dataset=dataset, data_path=data_path))
    if h != w:
        raise ValueError(f"image energies take square images, got {h}×{w}")
    ekw = {**kwargs[energy], "memory_width": writable_width_for(memory_floats, energy), "size": h}
    mcfg = dataclasses.replace(mcfg, energy=EnergyConfig(energy, c * h * w, ekw))
    return mcfg, dataclasses.replace(tcfg, dataset=dataset, data_path=data_path)


def binary_base(preset: str, model_kind: str = "ebmm") -> tuple[MemoryConfig, TrainConfig]:
    """The base configs of ``ebmm train binary``: preset ``preset``'s, with the learned
    baselines' optimiser (:data:`BASELINE_TRAIN`) for ``model_kind != "ebmm"`` (keeping the
    preset's N range and distortion)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    mcfg, tcfg = PRESETS[preset]
    if model_kind != "ebmm":
        tcfg = _replace(BASELINE_TRAIN, patterns=tcfg.patterns, min_patterns=tcfg.min_patterns, distortion=tcfg.distortion)
    return mcfg, tcfg


def energy_memory_config(
    mcfg: MemoryConfig, *, max_patterns: int, energy: str | None = None, hidden: int | None = None,
    read_steps: int | None = None, write_steps: int | None = None, write_chunk: int | None = None,
) -> MemoryConfig:
    """``mcfg`` with the command line's overrides: another energy kind (its default arguments),
    a hidden size, K, T, the write chunk, and the most patterns per episode. ``ValueError`` for
    a hidden size on the slot energy (it has none)."""
    ekw = dict(mcfg.energy.kwargs) if energy in (None, mcfg.energy.kind) else {}
    kind = energy or mcfg.energy.kind
    if hidden is not None:
        if kind == "slots":
            raise ValueError("the slot energy has no hidden layer: its size is 96 slots × 86 floats")
        ekw["hidden"] = hidden
    return _replace(
        mcfg,
        energy=_replace(mcfg.energy, kind=kind, kwargs=ekw),
        read=_replace(mcfg.read, steps=read_steps or mcfg.read.steps),
        write=_replace(mcfg.write, steps=write_steps or mcfg.write.steps, chunk=mcfg.write.chunk if write_chunk is None else write_chunk),
        max_patterns=max_patterns,
    )

