"""``EpochFeeder``: the one path from a loader to the step, batches of one shape.

Keras's epoch iterator owns batching the same way: the trainer asks it for the
next execution's data and never looks at a ragged batch. Here each batch is padded
to the batch size with copies of its last row (``jtoolkit.data``'s one padding
rule) and a 0/1 row mask, ``k`` batches are stacked for a step that runs ``k`` per
call, and the result is placed on the device (or split over a mesh) a few batches
ahead. Every item has the same shapes, so a run compiles its step once.

A ``DistributedSampler``'s padding (the copies of the start of the order that make
``len(dataset)`` divide by the process count) is masked the same way: the sampler
says which of its positions are copies, the feeder zeroes their mask rows, so no
sample is trained on twice and the numbers do not depend on the process count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any, NamedTuple, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from jtoolkit._src.data.loader import DataLoader
from jtoolkit._src.data.padding import batch_rows, pad_batch
from jtoolkit._src.data.prefetch import prefetch_to_device
from jtoolkit._src.data.samplers import BatchSampler, DistributedSampler

__all__ = [
    "Batched",
    "EpochFeeder",
    "Feed",
    "Loader",
    "Resumable",
    "ScalarLossError",
    "Shuffled",
    "batch_size_of",
]


class Loader(Protocol):
    """What ``fit`` trains on: a re-iterable of batches with a length."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


@runtime_checkable
class Shuffled(Protocol):
    """A loader whose order depends on the epoch (``DataLoader.set_epoch``)."""

    def set_epoch(self, epoch: int) -> None: ...


@runtime_checkable
class Resumable(Protocol):
    """A loader that can say where it is and resume there (mid-epoch)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class Batched(Protocol):
    """A loader that declares its batch size (``DataLoader.batch_size``)."""

    batch_size: int | None


@runtime_checkable
class _Sampled(Protocol):
    """A ``DataLoader`` whose sampler length says whether its last batch is short."""

    sampler: Sized
    drop_last: bool
    batch_size: int | None


class ScalarLossError(ValueError):
    """A scalar loss with ragged batches: padded rows cannot be left out."""


def batch_size_of(loader: Any) -> int | None:
    """The loader's declared batch size (a positive int), else None.

    Example:
        >>> batch_size_of([np.zeros(3)]) is None
        True
    """
    size = loader.batch_size if isinstance(loader, Batched) else None
    return size if isinstance(size, int) and size > 0 else None


def last_batch_rows(loader: Any) -> int | None:
    """Rows of the loader's short last batch if it has one, 0 if none, None if
    the loader does not say (known before any batch is loaded)."""
    if not isinstance(loader, _Sampled) or batch_size_of(loader) is None:
        return None
    try:
        n = len(loader.sampler)
    except TypeError:
        return None
    size = batch_size_of(loader)
    if size is None:
        return None
    return 0 if loader.drop_last or n % size == 0 or n < size else n % size


class Feed(NamedTuple):
    """One call's data: ``batch`` and ``mask`` (of one shape for the whole run),
    ``valid`` (bool ``(steps,)`` or None), the real rows of each real batch (this
    process's, sampler padding left out), the loader's ``state_dict()`` right after
    its last batch (None if it has none), and ``weights``: each batch's real rows
    over all processes (what the step's mean divides by; ``rows`` when unknown).
    """

    batch: Any
    mask: Any
    valid: Any
    rows: tuple[int, ...]
    position: Any = None
    weights: tuple[int, ...] = ()


class SamplerPadding(NamedTuple):
    """Where a loader's ``DistributedSampler`` pads: ``local`` (bool, this
    process's positions that are real samples), ``everywhere`` (int, real samples
    at each position over all processes) and the loader's ``batch_size``."""

    local: np.ndarray
    everywhere: np.ndarray
    batch_size: int


def sampler_padding(loader: Any) -> SamplerPadding | None:
    """The padding of ``loader``'s pass if it batches a ``DistributedSampler`` that
    pads (a ``DataLoader(sampler=DistributedSampler(...))`` itself: a prefetcher
    around it runs ahead of the batches it hands out), else None.

    Example:
        >>> from jtoolkit._src.data.loader import DataLoader
        >>> s = DistributedSampler(range(5), 2, rank=1, shuffle=False)
        >>> sampler_padding(DataLoader(range(5), batch_size=2, sampler=s)).local
        array([ True,  True, False])
    """
    if not isinstance(loader, DataLoader):
        return None
    batches = loader.batch_sampler
    if type(batches) is not BatchSampler:
        return None
    sampler = batches.sampler
    if not isinstance(sampler, DistributedSampler):
        return None
    ranks = range(sampler.num_replicas)
    everywhere = np.sum([sampler.valid_mask(r) for r in ranks], axis=0)
    if everywhere.min() == sampler.num_replicas:  # no process pads
        return None
    local = sampler.valid_mask()
    return SamplerPadding(local, everywhere, batches.batch_size)


def _stack(leaves: list[Any]) -> Any:
    if isinstance(leaves[0], jax.Array):
        return jnp.stack(leaves)
    return np.stack([np.asarray(x) for x in leaves])


class EpochFeeder:
    """Pads, groups, places and prefetches the batches of ``loader``.

    Args:
        loader: a ``Loader`` (``jtoolkit.data.DataLoader`` or any sized iterable).
        steps: optimizer steps per call of the step.
        accumulate: batches per optimizer step.
        placement: None (the default device), a ``jax.Device`` or a ``Sharding``
            for the stacked batch.
        prefetch: calls' data in flight ahead of the step (>= 1).
        size: the batch size to pad to (None: the loader's, else its first
            batch's); a loader with one batch per epoch is never padded (a batch
            size larger than the data is the data).
    """

    def __init__(
        self,
        loader: Iterable,
        *,
        steps: int = 1,
        accumulate: int = 1,
        placement: Any = None,
        prefetch: int = 2,
        size: int | None = None,
    ) -> None:
        self.loader, self.steps, self.accumulate = loader, steps, accumulate
        self.placement, self.prefetch = placement, prefetch
        self.size = size if size is not None else batch_size_of(loader)
        if len(loader) == 1:  # type: ignore[arg-type]
            self.size = None  # one batch: its own rows (a clamped batch size)

    @property
    def group(self) -> int:
        """Batches per call."""
        return self.steps * self.accumulate

    def _padded(self, positions: list) -> Iterator[tuple[Any, np.ndarray, int, int]]:
        """``(batch, mask, real rows, real rows over all processes)`` per batch."""
        resumable = isinstance(self.loader, Resumable)
        padding = sampler_padding(self.loader)
        for batch in self.loader:
            if resumable:  # where the loader is now: a mid-epoch resume point
                positions.append(self.loader.state_dict())  # type: ignore[union-attr]
            rows = batch_rows(batch)
            if self.size is None:
                self.size = rows
            padded, mask = pad_batch(batch, self.size)
            if padding is None:
                yield padded, mask, rows, rows
                continue
            done = positions[-1]["batches_yielded"]  # 0: the pass is over
            start = ((done or len(self.loader)) - 1) * padding.batch_size  # type: ignore[arg-type]
            real = padding.local[start : start + rows]
            mask[:rows] *= real  # the sampler's copies count as padding
            everywhere = int(padding.everywhere[start : start + rows].sum())
            yield padded, mask, int(real.sum()), everywhere

    def _grouped(self, rows_out: list, positions: list) -> Iterator[tuple[Any, Any]]:
        group: list[tuple[Any, np.ndarray, int, int]] = []
        for item in self._padded(positions):
            group.append(item)
            if len(group) == self.group:
                yield self._pack(group, rows_out)
                group = []
        if group:
            yield self._pack(group, rows_out)

    def _pack(self, group: list, rows_out: list) -> tuple[Any, Any]:
        """One call's ``(batch, mask)``; a short group filled with masked copies."""
        rows_out.append((tuple(g[2] for g in group), tuple(g[3] for g in group)))
        if self.group == 1:
            return group[0][0], group[0][1]
        real = len(group)
        filler = np.zeros_like(group[-1][1])
        batches = [g[0] for g in group] + [group[-1][0]] * (self.group - real)
        masks = [g[1] for g in group] + [filler] * (self.group - real)
        lead = tuple(d for d in (self.steps, self.accumulate) if d > 1)
        batch = jax.tree.map(
            lambda *xs: _stack(list(xs)).reshape(lead + np.shape(xs[0])), *batches
        )
        mask = np.stack(masks).reshape(lead + masks[0].shape)
        return batch, mask

    def _valid(self, rows: tuple[int, ...]) -> np.ndarray | None:
        if self.steps == 1:
            return None
        return np.arange(self.steps) * self.accumulate < len(rows)

    def __iter__(self) -> Iterator[Feed]:
        """One epoch of ``Feed``s (the loader's next pass)."""
        rows: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        positions: list[Any] = []
        grouped = self._grouped(rows, positions)
        placed = prefetch_to_device(grouped, self.prefetch, self.placement)
        done = 0
        for i, (batch, mask) in enumerate(placed):
            real, weights = rows[i]
            done += len(real)
            position = positions[done - 1] if positions else None
            yield Feed(batch, mask, self._valid(real), real, position, weights)

    def check_scalar_loss(self, takes_mask: bool) -> None:
        """ScalarLossError when a scalar loss meets a ragged batch or a short group
        of accumulated batches (known from the loader, before any training)."""
        if takes_mask:
            return
        short = self._short_rows()
        uneven = self.accumulate > 1 and len(self.loader) % self.accumulate  # type: ignore[arg-type]
        if short is not None or uneven:
            what = (
                f"the last batch of each epoch has {short} of {self.size} rows"
                if short is not None
                else f"{len(self.loader)} batches do not group by accumulate="  # type: ignore[arg-type]
                f"{self.accumulate}"
            )
            raise ScalarLossError(scalar_loss_message(what))

    def _short_rows(self) -> int | None:
        """Real rows of the last batch if some of its rows are padding (the
        sampler's copies count), else None."""
        padding = sampler_padding(self.loader)
        if padding is not None:
            n, size = len(padding.local), padding.batch_size
            return int(padding.local[(n - 1) // size * size :].sum())
        return last_batch_rows(self.loader) or None

    def check_rows(self, rows: tuple[int, ...]) -> None:
        """The same error for a ragged batch the loader did not announce."""
        if any(r != self.size for r in rows):
            short = min(rows)
            raise ScalarLossError(
                scalar_loss_message(f"a batch has {short} of {self.size} rows")
            )


def scalar_loss_message(what: str) -> str:
    """The one error text for a scalar loss that cannot be masked."""
    return (
        f"fit: loss_fn returns a scalar loss but {what}; padded rows can only be "
        "left out of per-example losses: return shape (batch,) (e.g. "
        "reduction='none'), or use DataLoader(drop_last=True)"
    )
