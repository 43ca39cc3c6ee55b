"""Loading one batch (main process or worker) and naming the sample that failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__: list[str] = []  # private: used by the loader and the workers


class SampleError(Exception):
    """Wraps the exception of one sample (or batch) with where it happened."""

    def __init__(self, where: str, error: BaseException) -> None:
        super().__init__(where)
        self.where = where
        self.error = error


def _describe(keys: list[Any]) -> str:
    shown = ", ".join(str(k) for k in keys[:8])
    more = ", ..." if len(keys) > 8 else ""
    return f"loading samples [{shown}{more}]"


class Fetcher(NamedTuple):
    """Everything needed to turn a list of indices into a batch (picklable)."""

    dataset: Any
    collate_fn: Callable[[Any], Any]  # the loader always passes one
    gather: Callable[[Any], Any] | None
    auto_batch: bool

    def __call__(self, indices: Any) -> Any:
        """The batch at ``indices`` (or the single sample without auto-batching)."""
        if not self.auto_batch:
            return self._one(indices)
        if self.gather is not None:
            try:
                return self.gather(indices)
            except Exception as e:
                raise SampleError(_describe(np.asarray(indices).tolist()), e) from e
        return self._collate(self._samples(indices))

    def start(self) -> Fetcher:
        """The batch maker of one pass: the fetcher itself (it keeps no state)."""
        return self

    def _one(self, index: Any) -> Any:
        try:
            sample = self.dataset[index]
        except Exception as e:
            raise SampleError(f"loading sample {index}", e) from e
        return sample if self.collate_fn is None else self.collate_fn(sample)

    def _samples(self, indices: Any) -> list[Any]:
        keys = indices.tolist() if isinstance(indices, np.ndarray) else list(indices)
        getitems: Callable[[list[Any]], Any] | None = getattr(
            self.dataset, "__getitems__", None
        )
        if callable(getitems):
            try:
                return getitems(keys)
            except Exception as e:
                raise SampleError(_describe(keys), e) from e
        samples, dataset, i = [], self.dataset, None
        try:
            for i in keys:
                samples.append(dataset[i])
        except Exception as e:
            raise SampleError(f"loading sample {i}", e) from e
        return samples

    def _collate(self, samples: list[Any]) -> Any:
        try:
            return self.collate_fn(samples)
        except Exception as e:
            raise SampleError(f"collating {len(samples)} samples", e) from e


class StreamEnd(Exception):
    """The stream of an IterableDataset has no further batch this pass."""


class StreamFetcher(NamedTuple):
    """Batches of an IterableDataset's stream (picklable; ``start`` per pass)."""

    dataset: Any
    collate_fn: Callable[[Any], Any]  # the loader always passes one
    batch_size: int | None
    drop_last: bool

    def start(self) -> _Stream:
        """A new pass: ``iter(dataset)`` now, as torch does when a pass starts."""
        return _Stream(self, iter(self.dataset))


class _Stream:
    """One pass over a stream: each call returns the next batch or raises StreamEnd.

    An error while drawing or collating is raised (naming the stream position) and
    the pass goes on with the next call, as torch's fetcher does.
    """

    def __init__(self, spec: StreamFetcher, it: Any) -> None:
        self.spec, self.it, self.ended, self.drawn = spec, it, False, 0

    def _draw(self) -> Any:
        try:
            sample = next(self.it)
        except StopIteration:
            self.ended = True
            raise StreamEnd from None
        except Exception as e:
            raise SampleError(f"loading sample {self.drawn} of the stream", e) from e
        self.drawn += 1
        return sample

    def __call__(self, _index: Any = None) -> Any:
        if self.ended:
            raise StreamEnd
        spec = self.spec
        if spec.batch_size is None:
            sample = self._draw()
            return sample if spec.collate_fn is None else spec.collate_fn(sample)
        samples = []
        try:
            for _ in range(spec.batch_size):
                samples.append(self._draw())
        except StreamEnd:
            if not samples or (spec.drop_last and len(samples) < spec.batch_size):
                raise
        try:
            return spec.collate_fn(samples)
        except Exception as e:
            raise SampleError(f"collating {len(samples)} samples", e) from e


def rebuild(error_type: type, message: str) -> BaseException:
    """An exception of ``error_type`` carrying ``message`` (RuntimeError if not)."""
    try:
        rebuilt = error_type(message)
    except Exception:
        return RuntimeError(message)
    return rebuilt if isinstance(rebuilt, BaseException) else RuntimeError(message)


def raise_in_main(err: SampleError, batch: int) -> None:
    """Re-raise a main-process loading error naming the sample, original chained."""
    original = err.error
    message = (
        f"{original} [jtoolkit.data: raised by {type(original).__name__} while "
        f"{err.where} of batch {batch} in the main process]"
    )
    rebuilt = rebuild(type(original), message)
    try:
        raise rebuilt from original
    finally:  # no cycle error -> traceback -> this frame -> error
        del err, rebuilt, original
