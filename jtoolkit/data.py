"""torch.utils.data on the host: datasets, samplers, DataLoader, device prefetch.

Batches are numpy arrays built on the host (no jax in ``__getitem__``, collate or
samplers); :func:`prefetch_to_device` is the one place that moves them to a device.
The order of samples is a pure function of ``(seed, epoch, sampler)`` and never
depends on ``num_workers``; ``state_dict()`` / ``load_state_dict()`` resume a pass
mid-epoch with exactly the remaining batches.

Example:
    >>> ds = ArrayDataset(np.arange(10.0), np.arange(10) % 2)
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    >>> [len(x) for x, y in loader]
    [4, 4, 2]
"""

from jtoolkit._src.data.collate import default_collate, default_convert
from jtoolkit._src.data.datasets import (
    ArrayDataset,
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from jtoolkit._src.data.loader import DataLoader
from jtoolkit._src.data.prefetch import prefetch_to_device
from jtoolkit._src.data.samplers import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from jtoolkit._src.data.workers import WorkerInfo, get_worker_info

__all__ = [
    "ArrayDataset",
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "prefetch_to_device",
    "random_split",
]
