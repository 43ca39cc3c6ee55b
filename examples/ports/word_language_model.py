"""Port of pytorch/examples ``word_language_model`` (``main.py``, ``model.py``'s
``RNNModel`` and ``data.py``'s ``Corpus``) to jtoolkit.

Run: ``python examples/ports/word_language_model.py`` (CPU, offline, seconds).

What is the same as upstream: the word-level ``Corpus`` (split on whitespace, an
``<eos>`` after every line, one shared dictionary), ``batchify``/``get_batch``
(sequence-first ``[bptt, batch]`` batches, targets shifted by one),
``RNNModel`` (dropout -> ``Embedding`` -> LSTM/GRU/RNN -> dropout -> ``Linear``
decoder, optional tied weights, init U(-0.1, 0.1) and zero decoder bias,
log-softmax + ``nll_loss``), hidden state carried across batches (the graph
is cut, as ``repackage_hidden``), ``clip_grad_norm`` 0.25, plain SGD ``p -= lr *
grad`` with lr 20 divided by 4 when the validation loss does not improve, the
evaluation and its log lines.

What differs:

* Text: upstream reads ``data/wikitext-2``; this port reads a text shipped with
  Python itself, ``LICENSE.txt`` next to the standard library (CPython's license,
  about 2,000 words, 650 distinct; ``--data`` picks another file). When a
  distribution left it out, the source of the ``argparse`` module is used
  instead. Lines are split 80/10/10 into train/valid/test.
* ``--model Transformer`` is not ported (LSTM, GRU, RNN_TANH, RNN_RELU are).
* Defaults are small: ``--emsize 64 --nhid 64 --epochs 6`` (upstream 200, 200,
  40); the remaining defaults are upstream's. ``--dry-run`` runs one batch.
* The update is ``optax.chain(optim.clip_grad_norm(0.25), optim.sgd(lr))``: the
  same arithmetic as upstream's hand-written loop; the lr annealing is
  ``optim.set_lr``. With ``--tied`` the decoder uses the embedding's weight and
  only its own bias (the unused ``decoder`` kernel is still allocated).
* Training and evaluation steps are jitted; the last, shorter bptt chunk of each
  split compiles once more. Dropout masks come from JAX's PRNG.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jtoolkit.functional as F
from jtoolkit import models, optim, train


def default_text() -> str:
    """CPython's ``LICENSE.txt`` beside the standard library (``argparse.py``'s
    source if a distribution removed it): a text every Python install ships."""
    stdlib = os.path.dirname(os.__file__)
    path = os.path.join(stdlib, "LICENSE.txt")
    return path if os.path.exists(path) else os.path.join(stdlib, "argparse.py")


class Dictionary:
    """upstream ``data.Dictionary``: word <-> id, in order of first appearance."""

    def __init__(self) -> None:
        self.word2idx: dict[str, int] = {}
        self.idx2word: list[str] = []

    def add_word(self, word: str) -> int:
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


class Corpus:
    """upstream ``data.Corpus``, on one file whose lines are split 80/10/10."""

    def __init__(self, path: str) -> None:
        self.dictionary = Dictionary()
        with open(path, encoding="utf8") as f:
            lines = f.read().splitlines()
        a, b = int(len(lines) * 0.8), int(len(lines) * 0.9)
        self.train = self.tokenize(lines[:a])
        self.valid = self.tokenize(lines[a:b])
        self.test = self.tokenize(lines[b:])

    def tokenize(self, lines: list[str]) -> np.ndarray:
        ids = [
            self.dictionary.add_word(word)
            for line in lines
            for word in [*line.split(), "<eos>"]
        ]
        return np.asarray(ids, np.int32)


def batchify(ids: np.ndarray, bsz: int) -> np.ndarray:
    """upstream's ``batchify``: drop the remainder, ``[len // bsz, bsz]`` columns."""
    nbatch = len(ids) // bsz
    return ids[: nbatch * bsz].reshape(bsz, nbatch).T.copy()


def get_batch(source: np.ndarray, i: int, bptt: int):
    """upstream's ``get_batch``: ``[seq_len, bsz]`` ids, flat next-word targets."""
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len].reshape(-1)


_RNNS = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "tanh", "RNN_RELU": "relu"}


class RNNModel(nnx.Module):
    """upstream's ``RNNModel``: encoder, recurrent module and decoder, seq-first."""

    def __init__(
        self,
        rnn_type: str,
        ntoken: int,
        ninp: int,
        nhid: int,
        nlayers: int,
        dropout: float = 0.5,
        tie_weights: bool = False,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if rnn_type not in _RNNS:
            raise ValueError(
                "An invalid option for `--model` was supplied, options are "
                f"{sorted(_RNNS)} (Transformer is not ported), got {rnn_type!r}"
            )
        if tie_weights and nhid != ninp:
            raise ValueError("When using the tied flag, nhid must be equal to emsize")
        self.ntoken, self.nhid, self.nlayers = ntoken, nhid, nlayers
        self.rnn_type, self.tie_weights = rnn_type, tie_weights
        self.drop = models.Dropout(dropout, rngs=rngs)
        self.encoder = models.Embedding(ntoken, ninp, rngs=rngs)
        kw = {"dropout": dropout, "batch_first": False, "rngs": rngs}
        if rnn_type == "LSTM":
            self.rnn = models.LSTM(ninp, nhid, nlayers, **kw)
        elif rnn_type == "GRU":
            self.rnn = models.GRU(ninp, nhid, nlayers, **kw)
        else:
            self.rnn = models.RNN(ninp, nhid, nlayers, _RNNS[rnn_type], **kw)
        self.decoder = models.Linear(nhid, ntoken, rngs=rngs)
        # upstream's init_weights: U(-0.1, 0.1) encoder and decoder, zero bias
        key = rngs.params()
        k1, k2 = jax.random.split(key)
        self.encoder.weight[...] = jax.random.uniform(
            k1, (ntoken, ninp), jnp.float32, -0.1, 0.1
        )
        self.decoder.kernel[...] = jax.random.uniform(
            k2, (nhid, ntoken), jnp.float32, -0.1, 0.1
        )
        self.decoder.bias[...] = jnp.zeros((ntoken,), jnp.float32)

    def __call__(self, ids: jax.Array, hidden):
        """``ids`` ``[seq_len, bsz]`` -> (log-probs ``[seq_len * bsz, ntoken]``,
        new hidden)."""
        emb = self.drop(self.encoder(ids))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        if self.tie_weights:  # decoder.weight is encoder.weight (torch's layout)
            decoded = F.linear(output, self.encoder.weight[...], self.decoder.bias[...])
        else:
            decoded = self.decoder(output)
        return F.log_softmax(decoded.reshape(-1, self.ntoken), dim=1), hidden

    def init_hidden(self, bsz: int):
        """Zeros: ``(h, c)`` for an LSTM, ``h`` otherwise."""
        h = jnp.zeros((self.nlayers, bsz, self.nhid), jnp.float32)
        return (h, h) if self.rnn_type == "LSTM" else h


def loss_fn(model: RNNModel, batch):
    """upstream's ``criterion(output, targets)`` with ``nn.NLLLoss``; the new hidden
    state is the auxiliary output (the next step's input: no gradient flows back)."""
    ids, targets, hidden = batch
    output, hidden = model(ids, hidden)
    return F.nll_loss(output, targets), hidden


def make_optimizer(lr: float, clip: float):
    """upstream's ``clip_grad_norm_(params, clip)`` then ``p.data.add_(p.grad,
    alpha=-lr)``."""
    return optax.chain(optim.clip_grad_norm(clip), optim.sgd(lr=lr))


@jax.jit
def _eval_loss(model: RNNModel, ids, targets, hidden):
    output, hidden = model(ids, hidden)
    return F.nll_loss(output, targets), hidden


def evaluate(model: RNNModel, source: np.ndarray, bsz: int, bptt: int) -> float:
    """upstream's ``evaluate``: mean per-word NLL over ``source``."""
    model.eval()
    total, hidden = 0.0, model.init_hidden(bsz)
    for i in range(0, len(source) - 1, bptt):
        ids, targets = get_batch(source, i, bptt)
        loss, hidden = _eval_loss(model, ids, targets, hidden)
        total += len(ids) * float(loss)
    return total / (len(source) - 1)


def _ppl(loss: float) -> float:
    """``math.exp(loss)``, inf instead of OverflowError when training diverged."""
    return math.exp(loss) if loss < 700 else math.inf


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description="jtoolkit port of the Word-level LM")
    p.add_argument("--data", default=None, help="a text file (default: LICENSE.txt)")
    p.add_argument("--model", default="LSTM", help="LSTM, GRU, RNN_TANH, RNN_RELU")
    p.add_argument("--emsize", type=int, default=64, help="upstream: 200")
    p.add_argument("--nhid", type=int, default=64, help="upstream: 200")
    p.add_argument("--nlayers", type=int, default=2)
    p.add_argument("--lr", type=float, default=20)
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--epochs", type=int, default=6, help="upstream: 40")
    p.add_argument("--batch_size", type=int, default=20)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--tied", action="store_true")
    p.add_argument("--seed", type=int, default=1111)
    p.add_argument("--log-interval", type=int, default=200)
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)

    path = args.data or default_text()
    corpus = Corpus(path)
    eval_batch_size = 10
    train_data = batchify(corpus.train, args.batch_size)
    val_data = batchify(corpus.valid, eval_batch_size)
    test_data = batchify(corpus.test, eval_batch_size)
    ntokens = len(corpus.dictionary)
    print(f"| corpus {path}: {ntokens} words, {len(corpus.train)} training tokens")
    model = RNNModel(
        args.model,
        ntokens,
        args.emsize,
        args.nhid,
        args.nlayers,
        args.dropout,
        args.tied,
        rngs=nnx.Rngs(params=args.seed, dropout=args.seed),
    )
    optimizer = make_optimizer(args.lr, args.clip)
    state = train.TrainState.create(model, optimizer, seed=args.seed)
    step = train.make_train_step(loss_fn, optimizer, has_aux=True)
    lr, best_val_loss = args.lr, None
    for epoch in range(1, args.epochs + 1):
        epoch_start_time = start_time = time.time()
        total_loss, hidden = 0.0, model.init_hidden(args.batch_size)
        nbatches = (len(train_data) - 1 + args.bptt - 1) // args.bptt
        for batch, i in enumerate(range(0, len(train_data) - 1, args.bptt)):
            ids, targets = get_batch(train_data, i, args.bptt)
            state, metrics = step(state, (ids, targets, hidden))
            hidden = metrics["aux"]
            total_loss += float(metrics["loss"])
            last = batch == nbatches - 1
            if (batch % args.log_interval == 0 and batch > 0) or last:
                cur_loss = total_loss / (batch % args.log_interval + 1)
                elapsed = time.time() - start_time
                print(
                    f"| epoch {epoch:3d} | {batch + 1:5d}/{nbatches:5d} batches | "
                    f"lr {lr:02.2f} | ms/batch {elapsed * 1000 / (batch + 1):5.2f} | "
                    f"loss {cur_loss:5.2f} | ppl {_ppl(cur_loss):8.2f}"
                )
                total_loss, start_time = 0.0, time.time()
            if args.dry_run:
                break
        val_loss = evaluate(state.module(), val_data, eval_batch_size, args.bptt)
        print("-" * 89)
        print(
            f"| end of epoch {epoch:3d} | time: {time.time() - epoch_start_time:5.2f}s"
            f" | valid loss {val_loss:5.2f} | valid ppl {_ppl(val_loss):8.2f}"
        )
        print("-" * 89)
        if best_val_loss is None or val_loss < best_val_loss:
            best_val_loss, best = val_loss, state.module()
        else:  # upstream: anneal the learning rate if no improvement
            lr /= 4.0
            state = state.replace(opt_state=optim.set_lr(state.opt_state, lr))
    test_loss = evaluate(best, test_data, eval_batch_size, args.bptt)
    print("=" * 89)
    print(
        f"| End of training | test loss {test_loss:5.2f} | "
        f"test ppl {_ppl(test_loss):8.2f}"
    )
    print("=" * 89)
    return test_loss


if __name__ == "__main__":
    main()
