"""The training loop: it learns, it is reproducible, it resumes exactly, it stops on NaN."""

import dataclasses
import json
import re

import jax
import numpy as np
import pytest

import drlim.train as train_module
from drlim.data import mnist_4_9
from drlim.models import MLP, LeNetDrLIM
from drlim.neighbors import knn_graph
from drlim.pairs import is_similar, make_sampler, sample_block
from drlim.train import (
    DivergenceError,
    NonFiniteLossError,
    TrainConfig,
    embed,
    init_params,
    initial_params,
    train,
)


@pytest.fixture(scope="module")
def digits():
    split = mnist_4_9(250, 100, seed=1, pad_to_32=True)
    return split.x_train, split.x_test


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(120, 8)).astype(np.float32)


def _flat(x):
    return x.reshape(len(x), -1)


@pytest.mark.parametrize("mode", ["pairs", "block"])
def test_learns_on_mnist(digits, mode):
    """Both partial losses fall, and unseen similar pairs end closer than dissimilar ones."""
    x_train, x_test = digits
    config = TrainConfig(steps=150, batch_size=64, mode=mode, learning_rate=1e-3, log_every=25)
    result = train(LeNetDrLIM(), x_train, knn_graph(_flat(x_train), k=5), config)
    first, last = result.history[0], result.history[-1]
    assert last["loss_similar"] < first["loss_similar"]
    assert last["loss_dissimilar"] < first["loss_dissimilar"]
    assert [row["step"] for row in result.history] == list(range(25, 151, 25))

    z = embed(LeNetDrLIM(), result.params, x_test)
    test_graph = knn_graph(_flat(x_test), k=5)
    sampler = make_sampler(test_graph)
    i, j = np.triu_indices(len(x_test), k=1)
    similar = np.asarray(is_similar(sampler, i, j))
    d = np.linalg.norm(z[i] - z[j], axis=1)
    assert d[similar].mean() < 0.6 * d[~similar].mean()


def test_all_pairs_objective_matches_numpy(blobs):
    """Mode 'all': the first step's objective is the weighted mean over every pair."""
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=1, mode="all", log_every=1, similar_fraction=0.3, margin=1.5)
    history = train(MLP(n_components=2), blobs, graph, config).history
    z = embed(MLP(n_components=2), init_params(MLP(n_components=2), blobs[0], 0), blobs)
    i, j = np.triu_indices(len(blobs), k=1)
    d = np.linalg.norm(z[i].astype(np.float64) - z[j], axis=1)
    similar = graph.to_dense()[i, j]
    loss_s = np.mean(0.5 * d[similar] ** 2)
    loss_d = np.mean(0.5 * np.maximum(1.5 - d[~similar], 0) ** 2)
    assert history[0]["loss_similar"] == pytest.approx(loss_s, rel=1e-4)
    assert history[0]["loss_dissimilar"] == pytest.approx(loss_d, rel=1e-4)
    assert history[0]["loss"] == pytest.approx(0.3 * loss_s + 0.7 * loss_d, rel=1e-4)


def test_same_seed_same_parameters(blobs):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=60, batch_size=32, log_every=20, seed=3)
    a = train(MLP(n_components=2), blobs, graph, config).params
    b = train(MLP(n_components=2), blobs, graph, config).params
    other_seed = TrainConfig(steps=60, batch_size=32, seed=4)
    c = train(MLP(n_components=2), blobs, graph, other_seed).params
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(a["params"]["output"]["kernel"], c["params"]["output"]["kernel"])


@pytest.mark.parametrize("mode", ["pairs", "block"])
def test_resume_after_interruption_matches_uninterrupted(blobs, tmp_path, monkeypatch, mode):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=120, batch_size=16, mode=mode, log_every=20, checkpoint_every=40,
                         optimizer="sgd", learning_rate=0.05)
    whole = train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path / "whole")

    restore = _interrupt_after_checkpoint(monkeypatch, at_step=80)
    with pytest.raises(KeyboardInterrupt):
        train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path / "cut")
    restore()

    resumed = train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path / "cut",
                    resume=True)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)
    log = (tmp_path / "cut" / "metrics.jsonl").read_text()
    rows = [json.loads(line) for line in log.splitlines()]
    assert [r["step"] for r in rows] == [20, 40, 60, 80, 100, 120]
    assert rows[-1]["loss"] == whole.history[-1]["loss"]


def test_diverging_run_stops_and_says_to_lower_the_learning_rate(blobs):
    config = TrainConfig(steps=400, batch_size=32, log_every=5, optimizer="sgd",
                         learning_rate=1e12, momentum=0.0)
    with pytest.raises(DivergenceError, match=r"by step \d+; lower learning_rate \(now 1e\+12\)"):
        train(MLP(n_components=2), blobs * 1e3, knn_graph(blobs, k=4), config)


def test_adam_at_a_huge_learning_rate_is_caught_before_the_coordinates_explode(blobs):
    config = TrainConfig(steps=200, batch_size=32, log_every=50, learning_rate=1e6)
    with pytest.raises(DivergenceError, match="the loss rose from"):
        train(MLP(n_components=2), blobs, knn_graph(blobs, k=4), config)


def test_healthy_runs_are_not_called_diverged(blobs):
    for lr in (1e-3, 1e-2, 1e-1):
        config = TrainConfig(steps=200, batch_size=32, log_every=50, learning_rate=lr)
        train(MLP(n_components=2), blobs, knn_graph(blobs, k=4), config)


def _poison_chunk(monkeypatch, at_start):
    run = train_module.run_steps

    def run_and_poison(*args):
        params, opt_state, stats = run(*args)
        if args[-1] == at_start:
            stats = {**stats, "loss": stats["loss"].at[2].set(np.nan)}
        return params, opt_state, stats

    run_and_poison.lower = run.lower  # train compiles the first call ahead through it
    monkeypatch.setattr(train_module, "run_steps", run_and_poison)


def test_nan_before_any_checkpoint_mentions_none(blobs, tmp_path, monkeypatch):
    _poison_chunk(monkeypatch, at_start=5)
    config = TrainConfig(steps=40, batch_size=16, log_every=5)
    with pytest.raises(NonFiniteLossError) as error:
        train(MLP(n_components=2), blobs, knn_graph(blobs, k=4), config, workdir=tmp_path)
    assert str(error.value) == "loss became nan at step 8"
    assert not (tmp_path / "checkpoint.msgpack").exists()


def test_resume_survives_a_torn_last_line(blobs, tmp_path):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=40, batch_size=16, log_every=10, checkpoint_every=20)
    whole = train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path / "whole")
    short = TrainConfig(steps=20, batch_size=16, log_every=10, checkpoint_every=20)
    train(MLP(n_components=2), blobs, graph, short, workdir=tmp_path / "cut")
    log = tmp_path / "cut" / "metrics.jsonl"
    with open(log, "a") as handle:
        handle.write('{"step": 30, "loss": 0.1')  # a crash in the middle of a write
    resumed = train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path / "cut",
                    resume=True)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [10, 20, 30, 40]


def test_resume_names_a_corrupt_line_in_the_middle(blobs, tmp_path):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=30, batch_size=16, log_every=10, checkpoint_every=10)
    train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path)
    log = tmp_path / "metrics.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], lines[1][:9], lines[2]]) + "\n")
    with pytest.raises(ValueError, match=rf"{log}: line 2 is not JSON"):
        train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path, resume=True)


def test_nan_stops_at_its_step_and_keeps_last_good_checkpoint(blobs, tmp_path, monkeypatch):
    """A NaN in the third logging interval: the error names the step, checkpoint 10 stays."""
    _poison_chunk(monkeypatch, at_start=10)
    config = TrainConfig(steps=40, batch_size=16, log_every=5, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError, match="at step 13; the last good checkpoint"):
        train(MLP(n_components=2), blobs, knn_graph(blobs, k=4), config, workdir=tmp_path)
    params = MLP(n_components=2).init(jax.random.key(0), blobs[:1])
    template = {"params": params, "opt_state": train_module.make_optimizer(config).init(params),
                "step": 0}
    saved = train_module.load_checkpoint(tmp_path / "checkpoint.msgpack", template)
    assert saved["step"] == 10


def _interrupt_after_checkpoint(monkeypatch, at_step):
    original = train_module.save_checkpoint

    def save_then_crash(path, state):
        original(path, state)
        if state["step"] == at_step:
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_crash)
    return lambda: monkeypatch.setattr(train_module, "save_checkpoint", original)


def test_a_resumed_run_is_judged_diverged_from_the_run_s_first_loss(blobs, tmp_path,
                                                                    monkeypatch):
    X = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    graph = knn_graph(X, k=3)
    config = TrainConfig(steps=10, log_every=1, checkpoint_every=2, optimizer="sgd",
                         momentum=0.9, learning_rate=10.0)
    with pytest.raises(DivergenceError, match="by step 8") as whole:
        train(MLP(n_components=2), X, graph, config)
    restore = _interrupt_after_checkpoint(monkeypatch, at_step=6)
    with pytest.raises(KeyboardInterrupt):
        train(MLP(n_components=2), X, graph, config, workdir=tmp_path)
    restore()
    with pytest.raises(DivergenceError) as resumed:
        train(MLP(n_components=2), X, graph, config, workdir=tmp_path, resume=True)
    assert str(resumed.value) == str(whole.value)


def test_resume_refuses_another_run_s_checkpoint_and_a_longer_run(blobs, tmp_path, monkeypatch):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=40, batch_size=16, log_every=10, checkpoint_every=10)
    train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path)
    other = dataclasses.replace(config, seed=1, learning_rate=0.05)
    with pytest.raises(ValueError, match=r"other settings \(config.learning_rate, config.seed\)"):
        train(MLP(n_components=2), blobs, graph, other, workdir=tmp_path, resume=True)
    with pytest.raises(ValueError, match=r"other settings \(config.network\)"):
        train(MLP(hidden=(16,), n_components=2), blobs, graph, config, workdir=tmp_path,
              resume=True)
    with pytest.raises(ValueError, match=r"other settings \(data.digest, data.shape, graph.digest"):
        train(MLP(n_components=2), blobs[:100], knn_graph(blobs[:100], k=4), config,
              workdir=tmp_path, resume=True)
    # A fresh run of other settings in the same workdir drops the stale checkpoint.
    restore = _interrupt_after_checkpoint(monkeypatch, at_step=20)
    with pytest.raises(KeyboardInterrupt):
        train(MLP(n_components=2), blobs, graph, other, workdir=tmp_path)
    restore()
    resumed = train(MLP(n_components=2), blobs, graph, other, workdir=tmp_path, resume=True)
    whole = train(MLP(n_components=2), blobs, graph, other)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)
    seconds = [row["seconds"] for row in resumed.history]
    assert seconds == sorted(seconds) and resumed.seconds >= seconds[-1]


def test_resume_refuses_other_data_or_graph_of_the_same_shape(blobs, tmp_path, caplog):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=40, batch_size=16, log_every=10, checkpoint_every=10)
    with caplog.at_level("WARNING", logger="drlim"):
        train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path, resume=True)
    assert f"no checkpoint to resume in {tmp_path}: training starts at step 0" in caplog.text
    with pytest.raises(ValueError, match=r"other settings \(data.digest\)"):
        train(MLP(n_components=2), blobs + 1, graph, config, workdir=tmp_path, resume=True)
    with pytest.raises(ValueError, match=r"other settings \(graph.digest\)"):
        train(MLP(n_components=2), blobs, knn_graph(blobs, k=3), config, workdir=tmp_path,
              resume=True)
    # A record written before the digests existed is checked on what it holds.
    record = json.loads((tmp_path / "train_run.json").read_text())
    del record["data"]["digest"], record["graph"]
    (tmp_path / "train_run.json").write_text(json.dumps(record))
    resumed = train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path, resume=True)
    assert [row["step"] for row in resumed.history] == [10, 20, 30, 40]


def test_resume_refuses_a_checkpoint_past_the_run_s_steps(blobs, tmp_path):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=40, batch_size=16, log_every=10, checkpoint_every=20)
    train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path)
    with pytest.raises(ValueError, match="its run is at step 40, beyond this run's 20 steps"):
        train(MLP(n_components=2), blobs, graph, dataclasses.replace(config, steps=20),
              workdir=tmp_path, resume=True)


def test_resume_keeps_a_checkpoint_whose_log_is_lost(blobs, tmp_path, monkeypatch):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=40, batch_size=16, log_every=10, checkpoint_every=20)
    whole = train(MLP(n_components=2), blobs, graph, config)
    train(MLP(n_components=2), blobs, graph, dataclasses.replace(config, steps=20),
          workdir=tmp_path)
    (tmp_path / "metrics.jsonl").unlink()
    run = train_module.run_steps

    def crash(*args):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(train_module, "run_steps", crash)
    with pytest.raises(KeyboardInterrupt):
        train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path, resume=True)
    assert (tmp_path / "checkpoint.msgpack").exists()  # the step-20 state is not thrown away
    monkeypatch.setattr(train_module, "run_steps", run)
    resumed = train(MLP(n_components=2), blobs, graph, config, workdir=tmp_path, resume=True)
    jax.tree.map(np.testing.assert_array_equal, whole.params, resumed.params)


def test_parameters_made_non_finite_by_the_last_step_are_caught(blobs):
    config = TrainConfig(steps=1, log_every=1, optimizer="sgd", learning_rate=1e300)
    with pytest.raises(NonFiniteLossError, match="parameters became NaN or inf by step 1"):
        train(MLP(n_components=2), blobs, knn_graph(blobs, k=4), config)


def test_epochs_are_passes_over_the_samples_in_every_mode():
    """One epoch: each of the n samples once an anchor, batch_size anchors a step."""
    for mode in ("pairs", "block"):
        config = TrainConfig(steps=0, epochs=2, batch_size=100, mode=mode)
        assert config.total_steps(1000) == 20
    edges = TrainConfig(steps=0, epochs=1.5, batch_size=64, loss="infonce")
    assert edges.total_steps(6000) == 141  # ceil(1.5 * 6000 / 64)
    # epochs beside the default steps had been ignored silently: 1000 steps, not 3 epochs
    with pytest.raises(ValueError, match=r"^one of steps and epochs must be > 0 and the other "
                                         r"0 \(steps is 1000 by default: pass steps=0"):
        TrainConfig(epochs=3)


@pytest.mark.parametrize(("settings", "match"), [
    ({"batch_size": 1}, "batch_size must leave a step both similar and dissimilar pairs at "
                        "similar_fraction 0.5 (it draws 1 similar of 1), got 1"),
    ({"batch_size": 10, "similar_fraction": 0.01}, "(it draws 0 similar of 10), got 10"),
    ({"momentum": 1.0}, "momentum must be a finite number in [0, 1), got 1.0"),
])
def test_settings_that_would_train_something_else_are_refused(settings, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        TrainConfig(**settings)


def test_block_and_all_modes_refuse_a_graph_without_dissimilar_pairs(blobs):
    """Without a dissimilar pair the objective is the attraction alone and the map collapses;
    pairs mode refused it, block and all modes trained on."""
    from drlim.neighbors import label_graph

    data = blobs[:40]
    for mode in ("block", "all"):
        config = TrainConfig(steps=10, batch_size=8, mode=mode)
        with pytest.raises(ValueError, match="^graph must have dissimilar pairs for mode"):
            train(MLP(n_components=2), data, label_graph(np.zeros(40, int)), config)


def test_block_mode_warns_about_samples_it_never_pairs(blobs):
    from drlim.neighbors import label_graph

    labels = np.r_[np.zeros(20, int), np.ones(19, int), -1]  # the last sample has no label
    with pytest.warns(UserWarning, match="^1 of the 40 samples have no similar sample"):
        train(MLP(n_components=2), blobs[:40], label_graph(labels),
              TrainConfig(steps=10, batch_size=8, mode="block"))


def test_a_cosine_schedule_over_epochs_needs_the_sample_count():
    config = TrainConfig(steps=0, epochs=2.0, schedule="cosine")
    with pytest.raises(ValueError, match="^n must be the number of training samples"):
        train_module.make_optimizer(config)


def test_epochs_that_make_whole_steps_are_not_rounded_up_by_float_error():
    """2.2 * 6000 / 132 is 100 exactly, 100.00000000000001 in floats: 100 steps, not 101."""
    for epochs, n, batch_size, steps in [(2.2, 6000, 132, 100), (4.4, 6000, 32, 825),
                                         (2.2, 6001, 132, 101), (1e-9, 10, 128, 1)]:
        config = TrainConfig(steps=0, epochs=epochs, batch_size=batch_size)
        assert config.total_steps(n) == steps, (epochs, n, batch_size)


def test_embed_refuses_a_batch_size_below_one(blobs):
    net = MLP(n_components=2)
    params = init_params(net, blobs[0], 0)
    for bad in (0, -3, 2.0):
        with pytest.raises(ValueError, match=rf"^batch_size must be (an int )?>= 1, got {bad}$"):
            embed(net, params, blobs, batch_size=bad)


def test_embed_of_no_samples_has_the_network_width(blobs):
    """Zero samples map to (0, n_components), so that callers can stack and index the result."""
    net = MLP(n_components=3)
    params = init_params(net, blobs[0], 0)
    z = embed(net, params, blobs[:0], batch_size=16)
    assert z.shape == (0, 3) and z.dtype == np.float32
    assert np.concatenate([z, embed(net, params, blobs[:5], batch_size=16)]).shape == (5, 3)


def test_block_mode_draws_batch_size_anchors_and_their_neighbours(blobs, monkeypatch):
    """batch_size=2 in block mode: a step's block is 2 anchors and a neighbour of each (4
    images, at most 4 * 3 / 2 pairs), and its loss is Eq. 4 over the block's pairs, the
    similar and dissimilar means weighted by half (recomputed here in NumPy)."""
    drawn = []

    def recorded_block(key, sampler, n_anchors):
        block = sample_block(key, sampler, n_anchors)
        jax.debug.callback(lambda *arrays: drawn.append([np.asarray(a) for a in arrays]),
                           *block)
        return block

    monkeypatch.setattr(train_module, "sample_block", recorded_block)
    network = MLP(hidden=(7,), n_components=2)  # a network no other test traces
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=1, batch_size=2, mode="block", log_every=1)
    (row,) = train(network, blobs, graph, config).history
    (idx, similar, valid), = drawn
    dense = graph.to_dense()
    assert idx.shape == (4,) and valid.sum() <= 6
    assert dense[idx[0], idx[2]] and dense[idx[1], idx[3]]  # each anchor, then its neighbour
    np.testing.assert_array_equal(similar, dense[np.ix_(idx, idx)])
    z = np.asarray(embed(network, initial_params(network, blobs, 0), blobs[idx]))
    d = np.linalg.norm(z[:, None] - z[None], axis=-1)
    near, far = similar & valid, ~similar & valid
    loss_similar = (0.5 * d**2)[near].mean()
    loss_dissimilar = (0.5 * np.maximum(0.0, 1.0 - d) ** 2)[far].mean()
    assert row["loss_similar"] == pytest.approx(loss_similar, rel=1e-4)
    assert row["loss_dissimilar"] == pytest.approx(loss_dissimilar, rel=1e-4)
    assert row["loss"] == pytest.approx(0.5 * loss_similar + 0.5 * loss_dissimilar, rel=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"mode": "everything"}, "mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"similar_fraction": 1.0}, "similar_fraction"),
        ({"steps": 0}, "steps"),
        ({"checkpoint_every": 30, "log_every": 20}, "checkpoint_every"),
        ({"mode": "block", "batch_size": 1}, r"batch_size must be >= 2, got 1"),
        ({"negatives": 0}, "negatives must be >= 1, got 0"),
        ({"negatives": True}, "negatives must be an int >= 1, got True"),
        ({"min_dist": 1.5}, r"min_dist must be a finite number in \[0.0, 1.0\], got 1.5"),
        ({"mode": "all", "steps": 0, "epochs": 1}, "steps must be > 0 in mode 'all'"),
        ({"margin": float("inf")}, "margin must be a finite number > 0, got inf"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number > 0, got nan"),
        ({"learning_rate": float("inf")}, "learning_rate must be a finite"),
        ({"steps": 0, "epochs": float("inf")}, "epochs must be a finite number >= 0, got inf"),
        ({"steps": -5}, "steps must be >= 0, got -5"),
        ({"steps": True}, "steps must be an int >= 0, got True"),
        ({"log_every": 2.0}, "log_every must be an int >= 1, got 2.0"),
        ({"seed": 2**32}, r"seed must be in \[0, 4294967295\], got 4294967296"),
        ({"seed": -1}, "seed must be in"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_bad_data_raises(blobs):
    graph = knn_graph(blobs, k=4)
    with pytest.raises(ValueError, match="one row per graph node"):
        train(MLP(), blobs[:50], graph, TrainConfig(steps=5))
    bad = blobs.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        train(MLP(), bad, graph, TrainConfig(steps=5))


def test_initial_params_are_those_of_the_scaled_first_sample(digits):
    images = (digits[0][:5] * 255).round().astype(np.uint8)
    made = initial_params(LeNetDrLIM(), images, 3)
    expected = init_params(LeNetDrLIM(), images[0].astype(np.float32) / np.float32(255), 3)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), made, expected))


def test_train_starts_from_the_first_samples_parameters(blobs):
    graph = knn_graph(blobs, k=4)
    config = TrainConfig(steps=20, batch_size=16, log_every=10, seed=2)
    alone = train(MLP(n_components=2), blobs, graph, config)
    given = train(MLP(n_components=2), blobs, graph, config,
                  params=init_params(MLP(n_components=2), blobs[0], 2))
    assert [row["loss"] for row in alone.history] == [row["loss"] for row in given.history]
