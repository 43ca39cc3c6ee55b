"""The torch twin of ``first_epoch_jtk.py``: the same workloads, one epoch, stamped.

``python first_epoch_torch.py WORKLOAD`` (``demo``, ``cnn``, ``lstm``, ``resnet``);
prints one JSON line with ``time.time()`` stamps after the imports, the model build
and the first epoch (train + validation). Threads: ``BENCH_TORCH_THREADS`` (default 1).
"""

import time

T_START = time.time()

import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

T_IMPORT = time.time()
torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))
torch.manual_seed(0)


def digits(side: int) -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("sklearn")
    root = next(iter(spec.submodule_search_locations))  # type: ignore[union-attr]
    path = os.path.join(root, "datasets", "data", "digits.csv.gz")
    t = np.loadtxt(path, delimiter=",", dtype=np.float32)
    r = side // 8
    x = (t[:, :64].reshape(-1, 8, 8) / 16.0).repeat(r, 1).repeat(r, 2)
    return x, t[:, 64].astype(np.int64)


def split(x: np.ndarray, y: np.ndarray):
    order = np.random.default_rng(0).permutation(len(x))
    nv = round(len(x) * 0.2)
    return (x[order[nv:]], y[order[nv:]]), (x[order[:nv]], y[order[:nv]])


class CNN(nn.Module):  # jtoolkit.models.CNN's twin
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10)
        )

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.layers = nn.Sequential(
            BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2)
        )
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        out = self.layers(F.relu(self.bn(self.conv(x))))
        return self.fc(out.mean(dim=(2, 3)))


class LanguageModel(nn.Module):
    def __init__(self, vocab: int, width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.lstm = nn.LSTM(width, width, 2, batch_first=True)
        self.fc = nn.Linear(width, vocab)

    def forward(self, x):
        out, _ = self.lstm(self.embed(x))
        return self.fc(out)


def tokens(vocab: int, bptt: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    stream = np.random.default_rng(0).integers(0, vocab, n * bptt + 1)
    return stream[:-1].reshape(n, bptt), stream[1:].reshape(n, bptt)


def workload(name: str):
    """(model, optimizer, scheduler, loss_fn, train_loader, val_loader)."""
    sched = None
    if name == "lstm":
        x, y = tokens(1000, 35, 600)
        (xt, yt), (xv, yv) = split(x, y)
        model, size = LanguageModel(1000, 128), 20
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = lambda out, y: F.cross_entropy(out.transpose(1, 2), y)  # noqa: E731
    else:
        side = {"demo": 32, "resnet": 32}.get(name, 16)
        x, y = digits(side)
        x = x.reshape(len(x), -1) if name == "demo" else x[:, None]  # NCHW
        (xt, yt), (xv, yv) = split(x, y)
        loss_fn = F.cross_entropy
        if name == "resnet":
            model, size = ResNet(), 128
            opt = torch.optim.SGD(
                model.parameters(), 0.1, momentum=0.9, weight_decay=5e-4, nesterov=True
            )
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1)
        elif name == "cnn":
            model, size = CNN(), 64
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        else:  # the demo: SimpleNN, Adam
            model, size = (
                nn.Sequential(nn.Linear(1024, 224), nn.ReLU(), nn.Linear(224, 10)),
                64,
            )
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = DataLoader(
        TensorDataset(torch.tensor(xt), torch.tensor(yt)), batch_size=size, shuffle=True
    )
    val = DataLoader(TensorDataset(torch.tensor(xv), torch.tensor(yv)), batch_size=size)
    return model, opt, sched, loss_fn, train, val


def main() -> None:
    model, opt, sched, loss_fn, train, val = workload(sys.argv[1])
    t_built = time.time()
    model.train()
    for xb, yb in train:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    if sched is not None:
        sched.step()
    model.eval()
    total = 0.0
    with torch.no_grad():
        for xb, yb in val:
            total += float(loss_fn(model(xb), yb)) * len(xb)
    t_epoch = time.time()
    out = {"start": T_START, "import": T_IMPORT, "built": t_built, "epoch": t_epoch}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
