r"""A slot energy for images: writable slots hold codes, a pixel-space well decodes them.

.. math::

    E(x) = \tfrac{\nu}{2}\|x - m\|^2 + \tfrac{\mu}{2}\|\phi\|^2
           - \tfrac{1}{\beta}\log\sum_{j=1}^{S}\exp\big(\beta\,(k_j^\top\phi - \tfrac12\|k_j\|^2)\big),
    \qquad \phi = A\,(x - m)

``x`` is an image ``(C, H, W)`` flattened to D = C·H·W pixels; the writable weights are the slot
table ``K = (k_1 … k_S)`` (``memory.weight (S, c)``); the encoder ``A (c, D)``, the pixel centre
``m (D)``, β, μ, ν and the writing energy's slot-norm factor λ are slow weights.

It is :class:`~ebmm.energies.SlotEnergy` — the binary memory's energy, written one pattern per
step, with the same writing energy ``E_w`` (slot-norm penalty × λ) — plus one term, the
**pixel well** ``ν/2‖x − m‖²``. Why it is needed for images:

* The binary slot energy's quadratic ``μ/2‖φ‖²`` lives in code space. Its ``∇ₓE`` lies in the
  encoder's row space (c of D directions), so a read changes an image only there: the noise in
  an occluded square, mostly outside those c directions, survives the read. That is enough
  for 128 bits and 86-float codes; a 1024-pixel image with 36–144-float codes needs the
  other directions to move too.
* With the pixel well, a read captured by slot j has the fixed point
  ``ν(x − m) = Aᵀ(k_j − μφ)``; for orthonormal rows, μ = 0 and a slot written from a free
  slot (``k = ωφ_i``), ``x = m + (ω/ν)AᵀA(x_i − m)``, which is ``m + P(x_i − m)`` when ν = ω:
  the stored image's projection on the code space — a *decoder*. The read starts at the query and
  moves a learned fraction of the way there per step, so intact pixels (already right) keep
  their value unless the decoded image disagrees strongly, and the occluded square is filled
  in from the memory.
* Writing is unchanged: the writing gradient for slot j is ``−r_j(φ − λk_j)`` (closed form,
  :meth:`write_param_grads`), ``φ`` being the stored image's code.

What bounds it: the code of c floats is a linear code of the image, so a retrieval is at best
the image's projection. Measured on held-out Omniglot (1,200 images, PCA of the training
split, binarised at 0.5, 16×16 square): the projection's Hamming error inside the square is
19.1 / 6.7 / 3.1 pixels at c = 36 / 96 / 144 — 36 and 144 floats per image being the paper's
2308 and 9232 floats at N = 64 — and 45.8 / 19.5 / 11.0 over the whole image. Meta-training
learns ``A`` and ``m``; :func:`pca_encoder` gives that starting point from training images.

**Trusting the query's intact pixels** (``trust="binary"``, the preset's for binarised data).
A noise-occluded query of a binary image mixes two kinds of pixels: intact ones, exactly 0 or
1, and noise, uniform in [0, 1]. The energy above compares the whole query with every slot, so
the noise square's code biases the slot choice (measured below: 43 % / 9.6 % of occluded
queries matched to another image's slot at 36 / 144 floats per slot). With ``trust="binary"``
a read first computes, from the query q alone, a per-pixel **trust**

.. math::

    w_p = \sigma\big(a - \gamma\, q_p (1 - q_p)\big)

(a and γ slow weights; ≈ 1 at 0/1 pixels, ≈ 0 inside the noise), and then

* starts from ``w ⊙ q + (1 − w) ⊙ m`` (untrusted pixels at the pixel centre, trusted ones as they
  are), holds the trusted pixels (w > ½) fixed like the clamped read, and
* descends the energy whose slot similarity measures each slot's norm on the trusted pixels
  only, ``k_jᵀφ − (ρ/2) Σ_p w_p (Aᵀk_j)_p²`` (with w ≡ 1 and orthonormal rows this is the
  energy above): up to terms common to all slots it is ``−(ρ/2)‖√w ⊙ (x − m − Aᵀk_j/ρ)‖²``,
  the distance to the slot's decoded image on the pixels the query is trusted at.

The trust is fixed for the read (a function of the query, like the clamped read's mask, but
estimated rather than given); its two slow weights are meta-trained through the start point
and the similarity. Measured untrained (PCA start, κ = 0.3, N = 64, held-out Omniglot, 16 sets):
the slot choice goes wrong for 10 % / 0.8 % of the queries instead of 43 % / 9.6 %, and the
Hamming error falls from 64.5 / 17.4 to 24.8 / 4.3 at 2308 / 9232 floats
(``benchmarks/image_slot_design.py``). Grey and colour images have no 0/1 pixels; for them
``trust="smooth"`` scores a pixel by its local roughness (:func:`roughness`) instead — uniform
noise is rough, photographs are mostly smooth.

**Arguments:** ``dim`` D (pixels × channels); ``shape`` the image shape ``(C, H, W)``; ``slots`` S;
``code`` c; ``beta`` initial β; ``curvature`` initial μ; ``pixel_curvature`` initial ν;
``init_scale`` std of θ̄'s entries; ``write_norm`` initial λ; ``centre`` initial pixel centre m;
``init`` ``"pca"`` (the trainer starts A and m from the training images' principal directions
and mean, :meth:`data_init`) or ``"random"``; ``sharpen`` initial κ; ``read_norm`` initial ρ;
``trust`` ``"none"``, ``"binary"`` or ``"smooth"`` (above) with initial ``trust_bias`` a and ``trust_slope`` γ
(None: :data:`TRUST_INIT`'s); ``residual`` ``"none"`` or ``"gaussian"`` (:mod:`ebmm.energies.gaussian_fill`,
which needs a trust) with ``residual_ridge``, the initial γ ``residual_weight`` and decode scale δ
``decode_scale`` (1/ω: a slot written from a free slot holds ω times the image's code);
``candidates`` k > 0 restricts each query's Gaussian mixture to the k slots the energy's trusted
similarity ranks first (0: every slot) — the residual read's products with Λ then cost k/S of theirs.
With ``trust="memory"`` (:mod:`ebmm.energies.disagreement`): ``detector_hidden``, ``detector_threshold``,
``detector_slope`` and ``detector_features`` (``"query"`` or ``"gap"``: what the detector's and the
matcher's networks see) build the detector (:class:`~ebmm.energies.disagreement.Disagreement`) and,
with ``matcher=True``, the matcher; ``detector_loss`` weighs their auxiliary loss, ``detector_tolerance``
is how close to the stored image a pixel must be to count as intact there, ``rank_clip`` clips the
ranking's whitened distance; ``recheck`` and ``outlier_cost`` are read options (:meth:`condition_read`), and so are
``region`` and ``region_share``, the region prior: every pixel whose ``region × region`` neighbourhood holds more
than ``region_share`` distrusted pixels is distrusted too (0: off; :func:`~ebmm.energies.memory_trust.among_distrusted`),
and ``choice_weights``, a learned choice among the rechecked candidates (one weight per
:data:`~ebmm.energies.memory_trust.CHOICE_FEATURES`; fit on training episodes by :func:`ebmm.meta.read_choice.fit_choice_weights`;
empty: the fixed rule), and ``trust_margin``, the detector logit a pixel must exceed to be trusted by
the read's final trust (0: the detector's own decision; a margin above 0 distrusts what it barely trusts,
each such pixel then filled from the stored image and its trusted neighbours), ``region_keep``, the
detector logit above which the region prior leaves a pixel trusted (0: the prior overrules any trust),
``rerank``, ranking the candidates again on the finally trusted pixels before the fill, and ``loo_z``
and ``loo_count``, the leave-one-out test: where more than ``loo_count`` trusted pixels of a query
have a standardised leave-one-out residual under the Gaussian read beyond ``loo_z``, they are
distrusted (0: off; calibrated on clean training queries by :func:`ebmm.meta.outlier_test.calibrate_leave_one_out`),
and ``box_fill``, the occluder's box: where the pixels the detector distrusts fill at least that share
of the box bounding them, the whole box is distrusted (0: off; :func:`~ebmm.energies.memory_trust.fill_box`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._base import ConditionedRead, Params, is_writable
from . import memory_trust
from .disagreement import Disagreement, Matcher, detect
from .gaussian_fill import read_plan, residual_precision
from .slots import SlotEnergy, SlotTable, slot_write_grad


#: how a read fills the pixels it does not trust: ``"none"`` (from the decoded slot) or
#: ``"gaussian"`` (the Gaussian conditional of the code's residual, :mod:`.gaussian_fill`)
RESIDUAL_KINDS = ("none", "gaussian")


#: how a read trusts the query's pixels: ``"none"`` (all alike), ``"binary"`` (0/1 pixels
#: trusted, values between untrusted — for binarised images), ``"smooth"`` (pixels where the
#: image is locally smooth trusted, rough ones not — for grey and colour images) or
#: ``"memory"`` (pixels that agree with the stored image the query copies trusted — any data,
#: any fill: :mod:`ebmm.energies.disagreement`). The first three judge a pixel by its value, so
#: they only see through the corruptions they were written for (uniform noise).
TRUST_KINDS = ("none", "binary", "smooth", "memory")

#: the initial (bias a, slope γ) of each kind of trust: w = σ(a − γ s), s the pixel's score
#: (``binary``: q(1 − q); ``smooth``: its local roughness, :func:`roughness`)
TRUST_INIT = {"binary": (8.0, 1e8), "smooth": (8.0, 50.0)}


def _inv_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class ImageSlotEnergy(SlotEnergy):
    """The slot energy with a pixel well, on images ``(..., C, H, W)``; see the module docstring."""

    closed_form_terms = ("energy",)
    has_write_energy = True
    #: arguments that change only how a read uses the slow weights (``EBMM.with_read_options``)
    READ_OPTIONS = ("recheck", "outlier_cost", "candidates", "region", "region_share", "choice_weights", "trust_margin", "region_keep", "rerank", "loo_z", "loo_count", "box_fill")

    def __init__(
        self,
        dim: int = 1024,
        shape: tuple[int, int, int] | list[int] = (1, 32, 32),
        slots: int = 64,
        code: int = 144,
        beta: float = 1e3,
        curvature: float = 1e-3,
        pixel_curvature: float = 0.5,
        init_scale: float = 1e-3,
        write_norm: float = 2.4,
        centre: float = 0.1,
        init: str = "pca",
        sharpen: float = 0.0,
        read_norm: float = 1.0,
        trust: str = "none",
        trust_bias: float | None = None,
        trust_slope: float | None = None,
        residual: str = "none",
        residual_ridge: float = 1e-3,
        residual_weight: float = 1e-2,
        decode_scale: float = 2.0,
        candidates: int = 0,
        detector_hidden: int = 16,
        detector_threshold: float = 0.5,
        detector_slope: float = 20.0,
        detector_features: str = "query",
        detector_loss: float = 1.0,
        detector_tolerance: float = 0.5,
        rank_clip: float = 16.0,
        matcher: bool = False,
        recheck: int = 1,
        outlier_cost: float = 2.0,
        region: int = 0,
        region_share: float = 0.2,
        choice_weights: tuple[float, ...] | list[float] | None = None,
        trust_margin: float = 0.0,
        region_keep: float = 0.0,
        rerank: bool = False,
        loo_z: float = 0.0,
        loo_count: int = 0,
        box_fill: float = 0.0,
    ):
        nn.Module.__init__(self)
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or math.prod(shape) != dim:
            raise ValueError(f"shape must be (C, H, W) with C·H·W = dim = {dim}, got {shape}")
        if code > dim:
            raise ValueError(f"code ({code}) must not exceed dim ({dim}): the encoder has orthonormal rows")
        if write_norm <= 0 or pixel_curvature <= 0 or curvature <= 0:
            raise ValueError("write_norm, pixel_curvature and curvature must be > 0")
        if init not in ("pca", "random"):
            raise ValueError(f"init must be 'pca' or 'random', got {init!r}")
        self.dim, self.shape, self.slots, self.code, self.init = dim, shape, slots, code, init
        self.memory = SlotTable(slots, code)
        nn.init.normal_(self.memory.weight, std=init_scale)
        self.encoder = nn.Linear(dim, code, bias=False)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(dim, code))
            self.encoder.weight.copy_(q.T)
        self.pixel_mean = nn.Parameter(torch.full((dim,), float(centre)))
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)))
        self.curvature_raw = nn.Parameter(torch.tensor(_inv_softplus(curvature)))
        self.pixel_curvature_raw = nn.Parameter(torch.tensor(_inv_softplus(pixel_curvature)))
        self.log_write_norm = nn.Parameter(torch.tensor(math.log(write_norm)))
        self.sharpen = nn.Parameter(torch.tensor(float(sharpen)))
        if read_norm <= 0:
            raise ValueError(f"read_norm must be > 0, got {read_norm}")
        self.log_read_norm = nn.Parameter(torch.tensor(math.log(read_norm)))
        if trust not in TRUST_KINDS:
            raise ValueError(f"trust must be one of {TRUST_KINDS}, got {trust!r}")
        self.trust = trust
        if trust in TRUST_INIT:
            bias, slope = TRUST_INIT[trust]
            bias = bias if trust_bias is None else trust_bias
            slope = slope if trust_slope is None else trust_slope
            if slope <= 0:
                raise ValueError(f"trust_slope must be > 0, got {slope}")
            self.trust_bias = nn.Parameter(torch.tensor(float(bias)))
            self.log_trust_slope = nn.Parameter(torch.tensor(math.log(slope)))
        if residual not in RESIDUAL_KINDS:
            raise ValueError(f"residual must be one of {RESIDUAL_KINDS}, got {residual!r}")
        self.residual, self.residual_ridge = residual, float(residual_ridge)
        if candidates < 0:
            raise ValueError(f"candidates must be >= 0 (0: every slot), got {candidates}")
        self.candidates = int(candidates)
        if residual == "gaussian":
            if trust == "none":
                raise ValueError("residual='gaussian' fills the pixels the read does not trust: it needs a trust ('binary' or 'smooth')")
            if residual_ridge <= 0 or residual_weight <= 0 or decode_scale <= 0:
                raise ValueError("residual_ridge, residual_weight and decode_scale must be > 0")
            self.residual_precision = nn.Parameter(torch.eye(dim) / residual_ridge)
            self.log_residual_weight = nn.Parameter(torch.tensor(math.log(residual_weight)))
            self.log_decode_scale = nn.Parameter(torch.tensor(math.log(decode_scale)))
        if trust == "memory":
            if residual != "gaussian":
                raise ValueError("trust='memory' fills what it does not trust by the Gaussian residual: it needs residual='gaussian'")
            if detector_loss < 0 or not 0 < detector_tolerance <= 1 or rank_clip <= 0:
                raise ValueError("detector_loss must be >= 0, detector_tolerance in (0, 1] and rank_clip > 0")
            self.detector_loss, self.detector_tolerance, self.rank_clip = float(detector_loss), float(detector_tolerance), float(rank_clip)
            # built last, so the other weights draw the same initial values as without it
            self.detector = Disagreement(shape, detector_hidden, detector_threshold, detector_slope, detector_features)
            if recheck < 1:
                raise ValueError(f"recheck must be >= 1, got {recheck}")
            self.recheck, self.outlier_cost = int(recheck), float(outlier_cost)
            if region < 0 or (region and region % 2 == 0) or not 0 < region_share < 1:
                raise ValueError(f"region must be 0 (off) or an odd window width, and region_share in (0, 1); got {region}, {region_share}")
            self.region, self.region_share = int(region), float(region_share)
            if not (math.isfinite(trust_margin) and trust_margin >= 0):
                raise ValueError(f"trust_margin must be a finite logit >= 0 (0: the detector's own decision), got {trust_margin}")
            self.trust_margin = float(trust_margin)
            if not (math.isfinite(region_keep) and region_keep >= 0):
                raise ValueError(f"region_keep must be a finite logit >= 0 (0: the region prior overrules any trust), got {region_keep}")
            self.region_keep, self.rerank = float(region_keep), bool(rerank)
            if not (math.isfinite(loo_z) and loo_z >= 0):
                raise ValueError(f"loo_z must be a finite z-score >= 0 (0: no leave-one-out test), got {loo_z}")
            if isinstance(loo_count, bool) or not float(loo_count).is_integer() or loo_count < 0:
                raise ValueError(f"loo_count must be an integer >= 0 (the outliers a query may hold before the test distrusts them), got {loo_count!r}")
            self.loo_z, self.loo_count = float(loo_z), int(loo_count)
            if not (math.isfinite(box_fill) and 0 <= box_fill <= 1):
                raise ValueError(f"box_fill must be a share in [0, 1] (0: off; the least share of its bounding box the distrust must fill), got {box_fill}")
            self.box_fill = float(box_fill)
            self.choice_weights = tuple(float(v) for v in choice_weights) if choice_weights else ()
            if len(self.choice_weights) == len(memory_trust.CHOICE_FEATURES) - 1:  # fitted before ``spread`` existed: it weighs 0
                self.choice_weights += (0.0,)
            if self.choice_weights and (len(self.choice_weights) != len(memory_trust.CHOICE_FEATURES) or not matcher):
                raise ValueError(f"choice_weights weighs the matcher's rechecked candidates: it needs matcher=True and one weight for each "
                                 f"of {memory_trust.CHOICE_FEATURES}, got {len(self.choice_weights)}")
            if matcher:
                self.matcher = Matcher(shape, detector_hidden, features=detector_features)
        elif matcher:
            raise ValueError("matcher=True chooses among the slots for trust='memory'; the other trusts have no use for it")
        self.has_matcher = bool(matcher)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.shape

    def data_init(self, static: Params, images: Tensor) -> Params:
        """The slow weights' starting point from training images ``(n, C, H, W)``: with
        ``init="pca"`` the encoder's rows are the top-c principal directions and the pixel centre
        the mean image (:func:`pca_encoder`); with ``init="random"`` they stay as they are
        (random orthonormal rows, a uniform centre). With ``residual="gaussian"`` the residual
        precision Λ is that of the images' residuals after the projection on those rows
        (:func:`~ebmm.energies.gaussian_fill.residual_precision`)."""
        out = dict(static)
        if self.init == "pca":
            mean, rows = pca_encoder(images, self.code)
            out["pixel_mean"], out["encoder.weight"] = mean.to(static["pixel_mean"]), rows.to(static["encoder.weight"])
        if self.residual == "gaussian":
            prec = residual_precision(images, out["pixel_mean"].detach().cpu(), out["encoder.weight"].detach().cpu(), self.residual_ridge)
            out["residual_precision"] = prec.to(static["residual_precision"])
        return out

    def _static(self) -> Params:
        return {n: p for n, p in self.named_parameters() if not is_writable(n)}

    def read_start(self, static: Params, queries: Tensor, known: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor] | None:
        """With a trust (``"binary"`` or ``"smooth"``): the trust ``w (..., M, D)`` of each query pixel, the read's
        start ``(..., M, C, H, W)`` (untrusted pixels at the pixel centre) and the pixels it holds
        fixed (w > ½, bool like the queries); None without trust (the read starts at the query)."""
        if self.trust in ("none", "memory"):  # "memory" needs the written slots: condition_read
            return None
        flat = queries.flatten(-3)
        if known is not None:  # told which pixels are intact (the clamped protocol): trust exactly those
            held = known.expand(queries.shape).flatten(-3)
            w = held.to(flat.dtype)
        else:
            score = flat * (1.0 - flat) if self.trust == "binary" else roughness(queries).flatten(-3)
            w = torch.sigmoid(static["trust_bias"] - static["log_trust_slope"].exp() * score)
            held = w > 0.5
        start = torch.where(held, flat, w * flat + (1.0 - w) * static["pixel_mean"])
        return w, start.reshape(queries.shape), held.reshape(queries.shape)

    def condition_read(self, static: Params, theta: Params, queries: Tensor, known: Tensor | None = None) -> ConditionedRead | None:
        """How a read of ``queries (..., M, C, H, W)`` from the written slots ``theta`` is
        conditioned on the query: None without trust; with ``trust="binary"`` the start, the held
        pixels and the trust (the read descends :meth:`forward` with it); with
        ``residual="gaussian"`` also the read's direction (the Newton direction of the Gaussian
        residual energy, :mod:`ebmm.energies.gaussian_fill`), the start being its first fill.
        ``known`` (bool, like the queries; the clamped protocol): the intact pixels, which the
        read then trusts instead of judging them itself — every pixel outside ``known`` is filled."""
        if self.trust == "memory":
            return memory_trust.condition_on_memory(self, static, theta, queries, known)
        started = self.read_start(static, queries, known)
        if started is None:
            return None
        w, start, held = started
        if self.residual == "none":
            return ConditionedRead(start, held, w, None)
        d = self.dim
        slots = theta["memory.weight"]
        decoded = static["pixel_mean"] + static["log_decode_scale"].exp() * (slots @ static["encoder.weight"])  # (..., S, D)
        lead = queries.shape[:-3]
        decoded = decoded.unsqueeze(-3).expand(*lead, *decoded.shape[-2:])  # (..., M, S, D)
        if 0 < self.candidates < slots.shape[-2]:  # the Gaussian mixture over each query's likeliest slots only
            sims = _pieces(static, slots, start.flatten(-3), trust=w)[2]  # the energy's trusted similarity (..., M, S)
            top = sims.topk(self.candidates, dim=-1).indices
            decoded = torch.gather(decoded, -2, top.unsqueeze(-1).expand(*top.shape, d))
        decoded = decoded.reshape(-1, decoded.shape[-2], d)
        plan = read_plan(static["residual_precision"], decoded, queries.reshape(-1, d), held.reshape(-1, d),
                         static["log_residual_weight"].exp())

        def direction(_theta: Params, x: Tensor) -> Tensor:
            return plan.newton_direction(x.reshape(-1, d)).reshape(x.shape)

        return ConditionedRead(plan.start(start.reshape(-1, d)).reshape(queries.shape), held, w, direction)

    def decoded_slots(self, static: Params, slots: Tensor) -> Tensor:
        """The stored images the slots ``(..., S, c)`` decode to, ``m + δAᵀk_j``: ``(..., S, D)``."""
        return static["pixel_mean"] + static["log_decode_scale"].exp() * (slots @ static["encoder.weight"])

    def _detect(self, static: Params, q: Tensor, d: Tensor) -> Tensor:
        return detect(self.detector, static, "detector.", q, d)

    def read_auxiliary_loss(self, static: Params, theta: Params, patterns: Tensor, queries: Tensor,
                            mask: Tensor | None = None) -> Tensor | None:
        """With ``trust="memory"``: the detector's (and matcher's) classification loss against
        the slot each stored image was written to (:func:`ebmm.energies.memory_trust.detection_loss`),
        ``patterns, queries (B, N, C, H, W)``, ``mask (B, N)``. None for the other trusts."""
        if self.trust != "memory" or self.detector_loss == 0:
            return None
        return memory_trust.detection_loss(self, static, theta, patterns, queries, self.stored_slots(static, theta, patterns), mask)

    @staticmethod
    def stored_slots(static: Params, theta: Params, patterns: Tensor) -> Tensor:
        """The slot each stored image ``patterns (..., N, C, H, W)`` is in (its likeliest by the read's
        similarity): ``(..., N)`` indices into the slot table; no gradient."""
        with torch.no_grad():
            return _pieces(static, theta["memory.weight"], patterns.flatten(-3))[2].argmax(-1)

    def forward(self, x: Tensor, write: bool = False, trust: Tensor | None = None) -> Tensor:
        """``x (..., C, H, W) -> energy (...)``; with per-episode slots ``(B, S, c)``, ``x (B, M, C, H, W)``.
        ``write=True`` gives the writing energy E_w; ``trust (..., M, D)`` the read's pixel trust
        (:meth:`read_start`), None: every pixel trusted."""
        static = self._static()
        flat = x.flatten(-3)
        single = flat.dim() == 1
        centred, phi, sims, beta, mu, nu = _pieces(static, self.memory.weight, flat, write, trust)
        if single:
            flat = flat.unsqueeze(0)
        e = (0.5 * nu * centred.pow(2).sum(-1) - 0.5 * static["sharpen"] * (flat - 0.5).pow(2).sum(-1)
             + 0.5 * mu * phi.pow(2).sum(-1) - torch.logsumexp(beta * sims, dim=-1) / beta)
        return e.squeeze(0) if single else e

    @staticmethod
    def grad_x(static: Params, theta: Params, x: Tensor, trust: Tensor | None = None) -> Tensor:
        """``∇ₓE = ν(x − m) − κ(x − ½) + Aᵀ(μφ − Σ_j r_j k_j)``, ``x (..., M, C, H, W)`` -> the same
        shape; ``trust (..., M, D)`` as in :meth:`forward` (it changes r, not the form)."""
        slots = theta["memory.weight"]
        flat = x.flatten(-3)
        centred, phi, sims, beta, mu, nu = _pieces(static, slots, flat, trust=trust)
        r = torch.softmax(beta * sims, dim=-1)
        g = nu * centred - static["sharpen"] * (flat - 0.5) + (mu * phi - r @ slots) @ static["encoder.weight"]
        return g.reshape(x.shape)

    @staticmethod
    def write_param_grads(static: Params, theta: Params, x: Tensor, weights: Tensor | None = None,
                          energy: bool = True, grad_norm: bool = False) -> tuple[Params | None, None]:
        """Gradient of ``Σ_i w_i E_w(x_i)`` with respect to the slot table, ``x (..., N, C, H, W)``:
        ``−Σ_i w_i r_ij (φ_i − λ k_j)`` (the pixel well does not depend on the slots)."""
        if grad_norm:
            raise ValueError("the image slot energy has no closed form of the gradient-norm term; use closed_form=False")
        if not energy:
            return None, None
        slots = theta["memory.weight"]
        _, phi, sims, beta, _, _ = _pieces(static, slots, x.flatten(-3), write=True)
        return {"memory.weight": slot_write_grad(slots, phi, sims, beta, static["log_write_norm"].exp(), weights)}, None


def _pieces(static: Params, slots: Tensor, flat: Tensor, write: bool = False, trust: Tensor | None = None):
    """``x − m``, ``φ (..., M, c)``, similarities ``(..., M, S)`` (the writing energy's with
    ``write``; with the read's pixel ``trust (..., M, D)`` each slot's norm is measured on the
    trusted pixels), β, μ, ν — for flattened images ``flat (..., M, D)``."""
    centred = flat - static["pixel_mean"]
    if centred.dim() == 1:
        centred = centred.unsqueeze(0)
    phi = centred @ static["encoder.weight"].T
    if trust is None:
        sq = slots.pow(2).sum(-1).unsqueeze(-2)  # ‖k_j‖², (..., 1, S)
    else:  # Σ_p w_p (Aᵀk_j)_p², (..., M, S)
        sq = trust @ (slots @ static["encoder.weight"]).pow(2).transpose(-1, -2)
    norm = 0.5 * sq * static["log_write_norm" if write else "log_read_norm"].exp()
    sims = phi @ slots.transpose(-1, -2) - norm
    beta = static["log_beta"].exp()
    mu = nn.functional.softplus(static["curvature_raw"])
    nu = nn.functional.softplus(static["pixel_curvature_raw"])
    return centred, phi, sims, beta, mu, nu


def roughness(images: Tensor) -> Tensor:
    """A pixel's local roughness, ``(..., C, H, W)`` -> the same shape: the mean over channels of
    ``|x − (3×3 mean of x)|``, averaged again over the 3×3 neighbourhood (the same for every
    channel). Natural images are locally smooth where uniform noise is not: on held-out natural
    patches with a 16×16 noise square, roughness < 0.16 tells intact pixels from noise for
    97.8 % of the pixels (3.5 % of the noise passes as intact)."""
    c, h, w = images.shape[-3:]
    x = images.reshape(-1, c, h, w)
    blur = nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    rough = (x - blur).abs().mean(1, keepdim=True)
    score = nn.functional.avg_pool2d(rough, 3, 1, 1, count_include_pad=False)
    return score.expand(-1, c, h, w).reshape(images.shape)


def pca_encoder(images: Tensor, code: int) -> tuple[Tensor, Tensor]:
    """A starting point for the slow weights from training images ``(n, C, H, W)``: the pixel
    mean ``m (D)`` and the top-``code`` principal directions as orthonormal rows ``A (code, D)``."""
    flat = torch.as_tensor(images, dtype=torch.float32).flatten(1)
    if code > min(flat.shape):
        raise ValueError(f"code ({code}) must not exceed min(n, D) = {min(flat.shape)}")
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    return mean, vh[:code].contiguous()
