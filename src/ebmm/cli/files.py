"""``ebmm recall``, ``ebmm write`` and ``ebmm export``: memories and states on disk."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EBMMError
from ._app import main, _device_option, _load_memory, _read_options


@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True, help="Shipped name, baseline name or .safetensors path.")
@click.option("--store", "store_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="(N, d) .npy of patterns in [0, 1] to store (added to --state when both are given).")
@click.option("--state", "state_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read from this saved state (from `ebmm write`) instead of, or before, writing --store.")
@click.option("--queries", "query_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="(M, d) .npy of queries in [0, 1].")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the (M, d) retrievals (.npy).")
@click.option("--trajectory", is_flag=True, help="Write every read iterate, (S, M, d), instead.")
@click.option("--clamp-known", is_flag=True,
              help="Clamped completion: keep the queries' known entries (with no --known: every entry that is 0 or 1, "
                   "i.e. all but the erased 0.5s).")
@click.option("--known", "known_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="(M, d) .npy of booleans (or 0/1): True where the query's entry is intact; implies --clamp-known.")
@_device_option
def recall(memory_name, store_path, state_path, query_path, out_path, trajectory, clamp_known, known_path, device):
    """Store the rows of --store (or take a saved --state), retrieve every row of --queries,
    write the result."""
    import numpy as np

    if store_path is None and state_path is None:
        raise click.UsageError("give --store (patterns to write), --state (a saved state), or both")
    memory = _load_memory(memory_name, device=device)
    state = _load_state(state_path, memory) if state_path is not None else None
    arrays = {}
    sources = ([("--store", store_path)] if store_path else []) + [("--queries", query_path)] + (
        [("--known", known_path)] if known_path else [])
    for hint, path in sources:
        arrays[hint] = _load_rows(path, hint, memory.dim)
    known = arrays.get("--known")
    if known is None and clamp_known:
        queries = arrays["--queries"]
        known = (queries == 0) | (queries == 1) if np.issubdtype(queries.dtype, np.number) else None
    try:
        if store_path is not None:
            state = memory.write(arrays["--store"], state=state)
        result = memory.read(arrays["--queries"], state, trajectory=trajectory, known=known)
    except (ValueError, TypeError) as e:
        raise click.ClickException(str(e)) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(out_path, result.astype(np.float32))
    click.echo(f"memory holds {len(state)} patterns, retrieved {arrays['--queries'].shape[0]} queries -> {out_path} {result.shape}",
               err=True)


def _load_rows(path: Path, hint: str, dim: int):
    """A 2-D ``(rows, dim)`` .npy array from ``path``, or a usage error naming option ``hint``."""
    import numpy as np

    try:
        rows = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise click.BadParameter(f"{path} is not a readable .npy array: {e}", param_hint=hint) from None
    if rows.ndim != 2:
        raise click.BadParameter(f"{path}: expected a 2-D (rows, {dim}) array, got shape {rows.shape}", param_hint=hint)
    return rows


def _load_state(path: Path, memory):
    from ..memory import load_state

    try:
        return load_state(path, memory)
    except (EBMMError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--state") from None


# ------------------------------------------------------------------------------------ write
@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True, help="Shipped name, baseline name or .safetensors path.")
@click.option("--store", "store_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="(N, d) .npy of patterns in [0, 1] to store.")
@click.option("--state", "state_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A saved state to add the patterns to (default: a fresh memory).")
@click.option("--state-out", "state_out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the resulting state (.safetensors); may equal --state.")
@_device_option
def write(memory_name, store_path, state_path, state_out, device):
    """Write the rows of --store into a memory (a fresh one, or a saved --state) and save the
    state, for later `ebmm recall --state` or more `ebmm write --state`."""
    memory = _load_memory(memory_name, device=device)
    state = _load_state(state_path, memory) if state_path is not None else None
    patterns = _load_rows(store_path, "--store", memory.dim)
    try:
        new = memory.write(patterns, state=state)
    except (ValueError, TypeError) as e:
        raise click.ClickException(str(e)) from None
    new.save(state_out)
    click.echo(f"{memory.name}: the state holds {len(new)} patterns -> {state_out}", err=True)


@main.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="Name stored in the file (default: DEST's stem).")
@click.option("--note", default="", help="Free text stored with the memory (e.g. the training command).")
@click.option("--read", "read_options", multiple=True, metavar="KEY=VALUE",
              help="A read-time option of the energy to store with the memory (image slots: recheck, outlier_cost, region, region_share, "
                   "candidates, choice_weights, trust_margin, region_keep, rerank, loo_z, loo_count, box_fill; compressive slots: candidates), e.g. --read recheck=4; "
                   "repeatable.")
def export(source, dest, name, note, read_options):
    """Write the memory of a run directory or checkpoint (SOURCE) to DEST without optimiser
    state: a small file that ebmm.load reads."""
    memory = _load_memory(str(source))
    if read_options:
        try:
            memory = memory.with_read_options(**_read_options(read_options))
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--read") from None
    memory.name = name or dest.stem
    if note:
        memory.info["note"] = note
    memory.save(dest)
    click.echo(f"wrote {dest} ({dest.stat().st_size} bytes, {memory.memory_size()} writable floats)")
