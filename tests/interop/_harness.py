"""torch twins of the six models from_torch must convert (written here; upstream
scripts are named, not copied), with small shapes and a fixed seed each."""

from __future__ import annotations

import numpy as np


def six_models(torch):
    """name -> (torch module, example input, compare in train mode?)."""
    nn, F = torch.nn, torch.nn.functional

    class SimpleNN(nn.Module):
        # the PyTorch basics tutorial's network (flatten, linear, relu, linear)
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.fc1 = nn.Linear(64, 32)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            return self.fc2(self.relu(self.fc1(self.flatten(x))))

    class MnistNet(nn.Module):
        # the layer sequence of pytorch/examples mnist/main.py's Net, made smaller
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(256, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = torch.flatten(self.dropout1(x), 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    class BasicBlock(nn.Module):
        # torchvision resnet.py's BasicBlock shape (conv-bn-relu-conv-bn + skip)
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class ResNetSmall(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU()
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = nn.Sequential(BasicBlock(8, 8, 1))
            self.layer2 = nn.Sequential(BasicBlock(8, 16, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer2(self.layer1(x))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    class LSTMLanguageModel(nn.Module):
        # pytorch/examples word_language_model's RNNModel with an LSTM
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(40, 12)
            self.rnn = nn.LSTM(12, 16, 2, batch_first=True)
            self.decoder = nn.Linear(16, 40)

        def forward(self, tokens):
            emb = self.drop(self.encoder(tokens))
            output, _ = self.rnn(emb)
            decoded = self.decoder(self.drop(output))
            return F.log_softmax(decoded, dim=-1)

    class EncoderClassifier(nn.Module):
        # a TransformerEncoder text classifier (embedding, encoder, mean pool, head)
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(30, 16)
            layer = nn.TransformerEncoderLayer(16, 2, 32, 0.1, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.head = nn.Linear(16, 4)

        def forward(self, tokens):
            return self.head(self.encoder(self.embed(tokens)).mean(dim=1))

    class Arithmetic(nn.Module):
        # a custom module: arithmetic, a bare parameter and a buffer in forward
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 4)
            self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 4))
            self.register_buffer("shift", torch.full((4,), 0.25))

        def forward(self, x):
            h = self.fc(x)
            y = h * torch.sigmoid(h) + 0.5 * x[:, :4] - self.shift
            return (y * self.scale - h.mean(dim=1, keepdim=True)) / 2

    rng = np.random.default_rng(0)

    def randn(*shape):
        return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))

    def ints(high, *shape):
        return torch.from_numpy(rng.integers(0, high, shape))

    torch.manual_seed(0)
    made = {
        "simple_nn": (SimpleNN(), randn(4, 8, 8), False),
        "mnist_net": (MnistNet(), randn(3, 1, 12, 12), False),
        "resnet": (ResNetSmall(), randn(4, 3, 16, 16), True),
        "lstm_lm": (LSTMLanguageModel(), ints(40, 3, 7), False),
        "encoder": (EncoderClassifier(), ints(30, 3, 6), False),
        "arithmetic": (Arithmetic(), randn(5, 6), False),
    }
    for module, _, _ in made.values():
        module.eval()
    return made


def programs_compiled(fn):
    """``(fn(), how many XLA programs it compiled)``: ``jax.monitoring``'s backend
    compile event, which a program read from the persistent cache also fires, so
    the count does not depend on the cache."""
    import jax

    seen = []

    def listen(event, duration, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            seen.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        out = fn()
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return out, len(seen)
