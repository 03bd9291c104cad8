"""Named configurations for ``ebmm train`` (``--preset``), so the shipped memories are
reproducible by one command. Individual CLI options override a preset's fields."""

from __future__ import annotations

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


#: Meta-training of the learned baselines (``ebmm train binary --model KIND``): the same episodes,
#: distortion and evaluation as EBMM, an optimiser setting that suits small recurrent/attention
#: models (AdamW 1e-3 with cosine decay, clipping at 1.0).
BASELINE_TRAIN = TrainConfig(patterns=96, min_patterns=16, lr=1e-3, lr_schedule="cosine", final_lr_fraction=0.1, warmup_steps=100,
                             clip_norm=1.0, steps=5_000)
