"""Tutorial section "Dataset and DataLoader", in jtoolkit.

Run: ``python examples/04_data.py`` (CPU, a few seconds).

``jtoolkit.data`` has torch's Dataset / DataLoader with the same arguments. Batches
are numpy arrays built on the host; ``prefetch_to_device`` moves them to the device
(torch's ``pin_memory=True`` + ``.to(device, non_blocking=True)``). The order of
samples depends only on ``seed``, the epoch and the sampler, never on
``num_workers``. Workers are processes started with forkserver/spawn (fork next to
JAX can deadlock), so, as torch requires on macOS and Windows, the dataset class
lives at module top level and the script runs under ``if __name__ == "__main__"``.
"""

import numpy as np

from jtoolkit import data


# torch: from torch.utils.data import DataLoader, Dataset
#        class CustomDataset(Dataset):
#            def __init__(self, data, targets): ...
#            def __getitem__(self, index): return self.data[index], self.targets[index]
#            def __len__(self): return len(self.data)
class CustomDataset(data.Dataset):
    def __init__(self, data, targets):
        self.data = data
        self.targets = targets

    def __getitem__(self, index):
        return self.data[index], self.targets[index]

    def __len__(self):
        return len(self.data)


# torch: class SampleDataset(Dataset) holding a list, with a transform
#        (torchvision's transforms.Compose([...]) -> any numpy function)
class VariableLengthDataset(data.Dataset):
    """Sequences of different lengths: the case for a custom collate_fn."""

    def __init__(self, transform=None):
        self.data = [np.arange(1, n + 1, dtype=np.float32) for n in (3, 1, 4, 2, 5)]
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, idx):
        sample = self.data[idx]
        return self.transform(sample) if self.transform else sample


def times_ten(sample):
    """A transform (top-level, so worker processes can unpickle it)."""
    return sample * 10.0


def my_custom_collate(batch):
    """Pad a list of 1-D sequences to the longest; return (padded, lengths)."""
    lengths = np.array([len(s) for s in batch])
    padded = np.zeros((len(batch), lengths.max()), np.float32)
    for row, sample in enumerate(batch):
        padded[row, : len(sample)] = sample
    return padded, lengths


def main() -> None:
    rng = np.random.default_rng(0)
    data_samples = rng.standard_normal((200, 8)).astype(np.float32)
    target_labels = rng.integers(0, 10, 200)

    # torch: train_dataset = CustomDataset(data_samples, target_labels)
    #        train_loader = DataLoader(dataset=train_dataset, batch_size=64,
    #                                  shuffle=True, num_workers=4)
    train_dataset = CustomDataset(data_samples, target_labels)
    train_loader = data.DataLoader(
        dataset=train_dataset, batch_size=64, shuffle=True, num_workers=0, seed=0
    )
    print("len(train_dataset):", len(train_dataset))
    print("len(train_loader):", len(train_loader))  # ceil(200 / 64) = 4

    # torch: for epoch in range(num_epochs):
    #            for batch_data, batch_labels in train_loader:
    #                batch_data = batch_data.to(device); batch_labels = ...to(device)
    for epoch in range(2):
        sizes, firsts = [], []
        for batch_data, batch_labels in data.prefetch_to_device(train_loader):
            sizes.append(batch_data.shape[0])  # jax Arrays on the default device
            firsts.append(int(batch_labels[0]))
        print(f"epoch {epoch}: batch sizes {sizes}, first labels {firsts}")
    # shuffle=True draws a new order each pass, reproducible from seed and epoch

    # An ArrayDataset (torch: TensorDataset) gathers whole batches with np.take.
    fast = data.DataLoader(
        data.ArrayDataset(data_samples, target_labels), batch_size=64, seed=0
    )
    x, y = next(iter(fast))
    print("ArrayDataset batch:", x.shape, x.dtype, y.shape)

    # torch: DataLoader(dataset=..., batch_size=32, shuffle=True, num_workers=4,
    #                   collate_fn=None, pin_memory=True, drop_last=False)
    # Every keyword is accepted; pin_memory has no effect (prefetch_to_device is the
    # JAX way to overlap host-to-device copies). drop_last=True drops the last 8:
    loader = data.DataLoader(
        dataset=train_dataset,
        batch_size=32,
        shuffle=True,
        num_workers=2,
        collate_fn=None,
        pin_memory=True,
        drop_last=True,
        seed=0,
    )
    print("len with drop_last=True:", len(loader))  # 200 // 32 = 6
    with_workers = [labels.tolist() for _, labels in loader]
    single = data.DataLoader(
        train_dataset, batch_size=32, shuffle=True, drop_last=True, seed=0
    )
    same = with_workers == [labels.tolist() for _, labels in single]
    print("num_workers=2 gives the same batches as num_workers=0:", same)

    # torch: test_dataset = MyDataset(transform=transforms.Compose([...]))
    #        test_loader = DataLoader(dataset=test_dataset, batch_size=16,
    #                                 shuffle=False, num_workers=2,
    #                                 collate_fn=my_custom_collate)
    test_dataset = VariableLengthDataset(transform=times_ten)
    test_loader = data.DataLoader(
        dataset=test_dataset,
        batch_size=2,
        shuffle=False,
        num_workers=2,
        collate_fn=my_custom_collate,
    )
    for padded, lengths in test_loader:
        print("padded batch:", padded.tolist(), "lengths:", lengths.tolist())

    # Resume mid-epoch (torch has no built-in twin): state_dict / load_state_dict
    resumable = data.DataLoader(train_dataset, batch_size=64, shuffle=True, seed=0)
    it = iter(resumable)
    next(it)
    saved = resumable.state_dict()
    rest = [labels[0].item() for _, labels in it]
    again = data.DataLoader(train_dataset, batch_size=64, shuffle=True, seed=0)
    again.load_state_dict(saved)
    resumed = [labels[0].item() for _, labels in again]
    print("resumed loader yields the remaining batches:", rest == resumed)


if __name__ == "__main__":
    main()
