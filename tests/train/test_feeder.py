"""EpochFeeder: one shape per run (so one compile), grouping, clamping, placement."""

import jax
import numpy as np
from flax import nnx

from jtoolkit import data, losses, models, optim
from jtoolkit.train import (
    EpochFeeder,
    TrainState,
    fit,
    make_eval_step,
    make_train_step,
)


def _loss(model, batch):
    return losses.cross_entropy(model(batch[0]), batch[1], reduction="none")


def _metric(model, batch):
    logits = model(batch[0])
    return {"loss": losses.cross_entropy(logits, batch[1], reduction="none")}


def _loader(n, batch_size, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    return data.DataLoader(
        data.ArrayDataset(x, y), batch_size=batch_size, shuffle=True, seed=1
    )


def test_feeds_have_one_shape_with_masks_and_valid_flags():
    feeder = EpochFeeder(_loader(150, 32), steps=3)  # 5 batches, the last of 22
    feeds = list(feeder)
    assert [f.rows for f in feeds] == [(32, 32, 32), (32, 22)]
    assert {f.batch[0].shape for f in feeds} == {(3, 32, 6)}
    assert all(isinstance(f.batch[0], jax.Array) for f in feeds)  # placed
    np.testing.assert_array_equal(feeds[1].valid, [True, True, False])
    mask = np.asarray(feeds[1].mask)
    assert mask.shape == (3, 32) and mask[1].sum() == 22 and mask[2].sum() == 0
    # Where the loader stands after each call's batches (prefetching aside).
    assert feeds[0].position == {"epoch": 0, "batches_yielded": 3, "seed": 1}
    assert feeds[1].position == {"epoch": 1, "batches_yielded": 0, "seed": 1}


def test_sampler_padding_is_masked_and_weighed_over_all_processes():
    """Rank 2 of 3 over 10 rows gets 4 positions, the last a copy of sample 1:
    its mask row is 0, and each batch weighs the rows of all three processes (the
    global batch the step averages over)."""
    ds = data.ArrayDataset(np.arange(10))
    sampler = data.DistributedSampler(ds, num_replicas=3, rank=2, shuffle=False)
    loader = data.DataLoader(ds, batch_size=3, sampler=sampler)
    feeds = list(EpochFeeder(loader))
    assert [np.asarray(f.batch[0]).tolist() for f in feeds] == [[2, 5, 8], [1, 1, 1]]
    assert [np.asarray(f.mask).tolist() for f in feeds][1] == [0.0, 0.0, 0.0]
    assert [f.rows for f in feeds] == [(3,), (0,)]
    assert [f.weights for f in feeds] == [(9,), (1,)]  # 10 rows in all
    # Resumed at the last batch, the feeder still knows that it is padding.
    loader.load_state_dict({"epoch": 0, "batches_yielded": 1, "seed": 0})
    (feed,) = list(EpochFeeder(loader, size=3))
    assert feed.rows == (0,) and feed.weights == (1,)


def test_a_batch_size_larger_than_the_data_is_the_data():
    (feed,) = list(EpochFeeder(_loader(40, 1000)))
    assert feed.batch[0].shape == (40, 6) and feed.rows == (40,)
    assert float(np.asarray(feed.mask).sum()) == 40


def _compiles(k, accumulate=1):
    opt = optim.adam(1e-2)
    step = make_train_step(_loss, opt, accumulate=accumulate)
    ev = make_eval_step(_metric)
    state = TrainState.create(
        models.MLP([6, 16, 2], dropout=0.1, rngs=nnx.Rngs(0)), opt
    )
    _, history = fit(
        state,
        step,
        _loader(150, 32),  # ragged last batch of 22
        2,
        validation=_loader(70, 32, seed=2),  # ragged last batch of 6
        eval_step=ev,
        steps_per_execution=k,
        progress=False,
    )
    assert np.isfinite(history[-1]["train_loss"] + history[-1]["val_loss"])
    return step.with_steps(k)._cache_size(), ev._cache_size()


def test_a_run_compiles_its_train_step_once_and_its_eval_step_once():
    assert _compiles(1) == (1, 1)
    assert _compiles(3) == (1, 1)
    assert _compiles(2, accumulate=2) == (1, 1)  # 5 batches: a short last group
