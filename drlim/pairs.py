"""Pair sampling from a neighbourhood graph, without ever listing the n^2 pairs.

DrLIM trains on pairs ``(x_i, x_j, similar)``. With 70,000 digits there are 2.4 billion
pairs, so pairs are drawn on the fly, inside the jitted training step, from a
:class:`PairSampler` that holds the graph in O(n + edges) memory:

- :func:`sample_pairs`: a batch with a fixed share of similar pairs; dissimilar pairs
  are drawn uniformly among all non-similar pairs, exactly (rejection, never a similar
  pair labelled dissimilar);
- :func:`sample_block`: a block of samples (anchors plus one neighbour each) and every
  pair among them, labelled by the graph, so each image is embedded once per step and
  reused by many pairs;
- :func:`sample_edges` and :func:`sample_negatives`: positive edges drawn in proportion
  to their weight (uniformly over edges when the graph has none) and negatives uniform over
  all samples, without rejection -- the sampling of UMAP's and InfoNCE's losses;
- :func:`is_similar`: the edge test.

Everything is deterministic for a JAX key.

>>> import jax
>>> from drlim.neighbors import sequence_graph
>>> sampler = make_sampler(sequence_graph(10, window=1))
>>> i, j, similar = sample_pairs(jax.random.key(0), sampler, batch_size=4)
>>> similar.tolist()
[True, True, False, False]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from drlim.config import similar_count
from drlim.neighbors import Graph, describe

# Binary searches of a bucketed sampler take at least this many steps (rows of up to 255
# neighbours), so that kNN graphs of one size share a shape whatever their largest degree.
MIN_SEARCH_STEPS = 8
# Above this many samples :func:`sample_edges` draws its anchors in two stages, a block of
# rows and then a row in it. One float32 draw over all the rows gives a row its share of the
# weight only to within about n / 2**23 of it (a float32 uniform takes 2**23 values): 0.1% at
# 6,000 samples, 1% at 70,000, up to 20% off at a million (measured, every value of the
# uniform enumerated). Up to here the single draw is kept, so that every saved result of the
# edge losses (60,000 samples at most) stays as it was.
TWO_STAGE_ANCHORS_ABOVE = 2**16


@struct.dataclass
class PairSampler:
    """A graph laid out for sampling under ``jax.jit`` (a pytree; build with :func:`make_sampler`).

    Explicit edges are stored in compressed rows: the sorted neighbours of sample ``i`` are
    ``indices[indptr[i]:indptr[i + 1]]``. Groups are stored as the member ids sorted by
    group, with, per sample, where its group starts (``group_start``) and its own position
    inside it (``group_rank``). ``active`` lists the samples that have at least one similar
    sample (the anchors of similar pairs). ``row_weight`` is each sample's total edge weight
    (its degree when the graph has no weights) and ``edge_cumsum`` the running sum of the
    weights along each compressed row, for :func:`sample_edges`.
    """

    indptr: jax.Array  # (n + 1,) int32
    indices: jax.Array  # (max(edges, 1),) int32
    degree: jax.Array  # (n,) int32, group members included
    groups: jax.Array  # (n,) int32, -1 = no group
    group_members: jax.Array  # (max(grouped, 1),) int32
    group_start: jax.Array  # (n,) int32
    group_rank: jax.Array  # (n,) int32
    active: jax.Array  # (max(n_active, 1),) int32
    row_weight: jax.Array  # (n,) float32
    edge_cumsum: jax.Array  # (max(edges, 1),) float32, restarts at each row
    search_steps: int = struct.field(pytree_node=False)
    has_similar: bool = struct.field(pytree_node=False)
    has_dissimilar: bool = struct.field(pytree_node=False)
    weighted: bool = struct.field(pytree_node=False, default=False)

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.degree.shape[0])


def make_sampler(graph: Graph) -> PairSampler:
    """Lay a :class:`~drlim.neighbors.Graph` out for jitted sampling.

    >>> from drlim.neighbors import label_graph
    >>> make_sampler(label_graph([0, 1, 0, 1])).degree.tolist()
    [1, 1, 1, 1]
    """
    if not isinstance(graph, Graph):
        raise ValueError(f"graph must be a drlim.neighbors.Graph, got {type(graph).__name__}")
    n = graph.n
    table = graph.neighbors
    valid = table >= 0
    explicit_degree = valid.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(explicit_degree)])
    if indptr[-1] >= np.iinfo(np.int32).max:
        raise ValueError(f"graph has too many explicit edges for int32 ids: {indptr[-1]}")
    indices = table[valid]  # row-major, so each row stays sorted
    if graph.groups is None:
        groups = np.full(n, -1, dtype=np.int32)
    else:
        groups = graph.groups
    grouped = np.flatnonzero(groups >= 0)
    members = grouped[np.argsort(groups[grouped], kind="stable")]
    sizes = np.bincount(groups[grouped], minlength=1)
    starts = np.cumsum(sizes) - sizes
    group_start = np.zeros(n, dtype=np.int64)
    group_rank = np.zeros(n, dtype=np.int64)
    group_start[members] = starts[groups[members]]
    group_rank[members] = np.arange(members.size) - group_start[members]
    degree = graph.degree
    active = np.flatnonzero(degree > 0)
    info = describe(graph)
    if graph.weights is None:
        row_weight = degree.astype(np.float64)
        edge_weight = np.ones(indices.size)
    else:
        row_weight = graph.weights.sum(axis=1, dtype=np.float64)
        edge_weight = graph.weights[valid].astype(np.float64)
    running = np.concatenate([[0.0], np.cumsum(edge_weight)])
    row_of_edge = np.repeat(np.arange(n), explicit_degree)
    edge_cumsum = running[1:] - running[indptr[:-1]][row_of_edge]
    return PairSampler(
        indptr=_int32(indptr),
        indices=_int32(indices if indices.size else np.array([-1])),
        degree=_int32(degree),
        groups=_int32(groups),
        group_members=_int32(members if members.size else np.array([0])),
        group_start=_int32(group_start),
        group_rank=_int32(group_rank),
        active=_int32(active if active.size else np.array([0])),
        row_weight=_float32(row_weight),
        edge_cumsum=_float32(edge_cumsum if edge_cumsum.size else np.zeros(1)),
        search_steps=int(explicit_degree.max(initial=0)).bit_length(),
        has_similar=bool(active.size),
        has_dissimilar=info["dissimilar"] > 0,
        weighted=graph.weights is not None,
    )


def bucketed(sampler: PairSampler) -> PairSampler:
    """``sampler`` with its edge and group arrays padded to a power of two and its binary
    searches to a power-of-two number of steps, so that graphs of about the same size have
    the same shapes and share one compiled training step (:func:`drlim.train.run_steps`).

    Draws and edge tests are unchanged: the padding is never read for a valid result, and a
    binary search that has converged stays where it is.

    >>> from drlim.neighbors import sequence_graph
    >>> padded = bucketed(make_sampler(sequence_graph(10, window=1)))
    >>> padded.indices.shape, padded.search_steps
    ((32,), 8)
    """
    return sampler.replace(
        indices=_pad(sampler.indices),
        edge_cumsum=_pad(sampler.edge_cumsum),
        group_members=_pad(sampler.group_members),
        search_steps=_bucket_steps(sampler.search_steps),
    )


def is_similar(sampler: PairSampler, i: Any, j: Any) -> jax.Array:
    """Whether ``i`` and ``j`` are similar in the graph (broadcast, elementwise; jittable).

    A sample is never similar to itself. Ids must lie in ``[0, n)`` (not checked under jit).
    Explicit neighbours are found by binary search, O(log degree) per pair.

    >>> from drlim.neighbors import pairs_graph
    >>> sampler = make_sampler(pairs_graph([0], [2], n=3))
    >>> is_similar(sampler, jnp.array([0, 2, 0, 1]), jnp.array([2, 0, 0, 2])).tolist()
    [True, True, False, False]
    """
    i, j = jnp.broadcast_arrays(jnp.asarray(i, jnp.int32), jnp.asarray(j, jnp.int32))
    group_i = sampler.groups[i]
    same_group = (group_i >= 0) & (group_i == sampler.groups[j])
    last = sampler.indices.shape[0] - 1
    end = sampler.indptr[i + 1]
    lo = _first_position(sampler, sampler.indptr[i], end, lambda at: sampler.indices[at] < j)
    listed = (lo < end) & (sampler.indices[jnp.minimum(lo, last)] == j)
    return (i != j) & (same_group | listed)


@functools.partial(jax.jit, static_argnames=("batch_size", "similar_fraction"))
def sample_pairs(
    key: jax.Array, sampler: PairSampler, batch_size: int, similar_fraction: float = 0.5
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A batch of pairs ``(i, j, similar)``: int32, int32, bool arrays of ``batch_size``.

    Exactly ``round(similar_fraction * batch_size)`` pairs are similar and come first.
    A similar pair is an anchor drawn uniformly among samples that have neighbours, then
    one of its similar samples uniformly -- uniform over anchors, not over edges (a hub's
    edges are drawn less often than a leaf's). A dissimilar pair is uniform over all
    unordered non-similar pairs: ``i`` uniform, ``j`` uniform among the others, redrawn
    (in a ``lax.while_loop`` per pair) until the pair is not an edge. Deterministic for
    ``key``; ``batch_size`` and ``similar_fraction`` are static.

    >>> from drlim.neighbors import label_graph
    >>> sampler = make_sampler(label_graph([0, 0, 1, 1, 2]))
    >>> i, j, similar = sample_pairs(jax.random.key(1), sampler, 6, similar_fraction=1 / 3)
    >>> similar.tolist()
    [True, True, False, False, False, False]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not isinstance(similar_fraction, int | float) or not 0.0 <= similar_fraction <= 1.0:
        raise ValueError(f"similar_fraction must be in [0, 1], got {similar_fraction!r}")
    n_similar = similar_count(similar_fraction, batch_size)
    n_dissimilar = batch_size - n_similar
    if n_similar and not sampler.has_similar:
        raise ValueError(
            f"similar_fraction must be 0 for a graph without similar pairs, got {similar_fraction}"
        )
    if n_dissimilar and not sampler.has_dissimilar:
        raise ValueError(
            "similar_fraction must be 1 for a graph where every pair is similar, "
            f"got {similar_fraction}"
        )
    key_similar, key_dissimilar = jax.random.split(key)
    anchors, partners = _draw_similar(key_similar, sampler, n_similar)
    far_i, far_j = _draw_dissimilar(key_dissimilar, sampler, n_dissimilar)
    similar = jnp.arange(batch_size) < n_similar
    return jnp.concatenate([anchors, far_i]), jnp.concatenate([partners, far_j]), similar


@functools.partial(jax.jit, static_argnames=("n_anchors",))
def sample_block(
    key: jax.Array, sampler: PairSampler, n_anchors: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """A block of ``m = 2 * n_anchors`` samples and all pairs among them.

    Returns ``idx`` (m,) int32 -- the anchors (uniform, with replacement, among samples
    that have neighbours) then one similar sample of each --, ``similar`` (m, m) bool
    from the graph, and ``valid`` (m, m) bool that keeps each unordered pair of distinct
    ids once: the upper triangle, restricted to the first occurrence of each id (so a
    repeated id, and the diagonal, count for nothing). Embed ``idx`` once, then take the
    loss over ``valid`` pairs. ``n_anchors`` is static.

    >>> from drlim.neighbors import sequence_graph
    >>> sampler = make_sampler(sequence_graph(50, window=1))
    >>> idx, similar, valid = sample_block(jax.random.key(0), sampler, n_anchors=4)
    >>> idx.shape, similar.shape, bool(similar[0, 4])
    ((8,), (8, 8), True)
    """
    if isinstance(n_anchors, bool) or not isinstance(n_anchors, int) or n_anchors < 1:
        raise ValueError(f"n_anchors must be an int >= 1, got {n_anchors!r}")
    if not sampler.has_similar:
        raise ValueError("sampler: sample_block needs a graph with at least one similar pair")
    anchors, partners = _draw_similar(key, sampler, n_anchors)
    idx = jnp.concatenate([anchors, partners])
    similar = is_similar(sampler, idx[:, None], idx[None, :])
    same = idx[:, None] == idx[None, :]
    first = ~jnp.any(jnp.tril(same, k=-1), axis=1)
    upper = jnp.triu(jnp.ones_like(same), k=1)
    valid = upper & first[:, None] & first[None, :]
    return idx, similar, valid


@functools.partial(jax.jit, static_argnames=("count", "self_loops"))
def sample_edges(
    key: jax.Array, sampler: PairSampler, count: int, self_loops: bool = False
) -> tuple[jax.Array, jax.Array]:
    """``count`` directed edges ``(i, j)`` drawn in proportion to their weight (jittable).

    Each of the graph's edges ``i -> j`` (both directions of every similar pair, group pairs
    included) is drawn with probability ``w_ij / sum w``; without weights every edge counts
    1, so each sample anchors edges in proportion to its degree -- UMAP's edge sampling,
    unlike :func:`sample_pairs`, which is uniform over anchors. The anchor is found by
    binary search in the running sum of ``row_weight`` (:func:`_draw_anchors`), the partner
    by binary search in its row. With ``self_loops`` every sample is also its own
    neighbour, with weight 1: the pair a sample forms with a transformed copy of itself
    (see :mod:`drlim.augment`).
    Deterministic for ``key``; ``count`` and ``self_loops`` are static.

    >>> from drlim.neighbors import Graph
    >>> g = Graph(np.array([[1], [0], [-1]]), weights=np.array([[0.5], [0.5], [0.0]]))
    >>> i, j = sample_edges(jax.random.key(0), make_sampler(g), 6)
    >>> sorted(set(zip(i.tolist(), j.tolist())))
    [(0, 1), (1, 0)]
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    if not (sampler.has_similar or self_loops):
        raise ValueError("sampler: sample_edges needs a graph with at least one similar pair")
    key_row, key_slot = jax.random.split(key)
    row_weight = sampler.row_weight + (1.0 if self_loops else 0.0)
    anchors = _draw_anchors(key_row, row_weight, count)
    slot = jax.random.uniform(key_slot, (count,)) * row_weight[anchors]
    if sampler.weighted:
        partners = _partner_at_weight(sampler, anchors, slot)
    else:
        rank = jnp.minimum(slot.astype(jnp.int32), sampler.degree[anchors] - 1)
        partners = _partner_at_rank(sampler, anchors, jnp.maximum(rank, 0))
    if self_loops:
        partners = jnp.where(slot >= sampler.row_weight[anchors], anchors, partners)
    return anchors.astype(jnp.int32), partners.astype(jnp.int32)


def _draw_anchors(key: jax.Array, row_weight: jax.Array, count: int) -> jax.Array:
    """``count`` rows drawn with probability ``row_weight / sum(row_weight)``.

    Up to :data:`TWO_STAGE_ANCHORS_ABOVE` rows, one draw in the running sum of all the rows.
    Beyond, a block of about sqrt(n) rows is drawn by its total weight, then a row within it
    by its weight, so that each stage's float32 grid is fine against the weights it splits
    (a million rows of degree 16 or 76: every share within 0.05%, against up to 20% in one
    draw; every value of each stage's uniform enumerated). A searchsorted to the right
    never stops on a step of zero weight; the clamps keep even a draw at the very end of a
    running sum on its last row of positive weight.

    >>> weights = jnp.zeros(2**17).at[jnp.array([3, 70_000])].set(jnp.array([1.0, 3.0]))
    >>> rows = _draw_anchors(jax.random.key(0), weights, 4000)
    >>> sorted(set(rows.tolist())), 0.72 < float(jnp.mean(rows == 70_000)) < 0.78
    ([3, 70000], True)
    """
    n = row_weight.shape[0]
    if n <= TWO_STAGE_ANCHORS_ABOVE:
        return _position_in(jnp.cumsum(row_weight), jax.random.uniform(key, (count,)), n - 1)
    width = _next_power_of_two(math.isqrt(n))
    blocks = -(-n // width)
    weights = jnp.pad(row_weight, (0, blocks * width - n)).reshape(blocks, width)
    within = jnp.cumsum(weights, axis=1)  # each block's own running sum
    key_block, key_row = jax.random.split(key)
    block = _position_in(jnp.cumsum(within[:, -1]), jax.random.uniform(key_block, (count,)),
                         _last_positive(within[:, -1]))
    row = jax.vmap(_position_in)(within[block], jax.random.uniform(key_row, (count,)),
                                 _last_positive(weights)[block])
    return block * width + row


def _position_in(running: jax.Array, uniform: jax.Array, last: jax.Array | int) -> jax.Array:
    """Where ``uniform`` (in [0, 1)) of the way along the running sum ``running`` falls: each
    position with the probability of its step, at most ``last``."""
    target = uniform * running[-1]
    return jnp.minimum(jnp.searchsorted(running, target, side="right"), last)


def _last_positive(weights: jax.Array) -> jax.Array:
    """The position of the last positive value along the last axis."""
    return jnp.max(jnp.where(weights > 0, jnp.arange(weights.shape[-1]), 0), axis=-1)


def sample_negatives(key: jax.Array, sampler: PairSampler, shape: tuple[int, ...]) -> jax.Array:
    """Sample ids drawn uniformly among all ``n`` samples, int32 of ``shape`` (jittable).

    UMAP's and InfoNCE's negatives: no rejection, so a negative is now and then a neighbour
    or the anchor itself (probability about ``degree / n``), as in UMAP.

    >>> from drlim.neighbors import sequence_graph
    >>> sample_negatives(jax.random.key(0), make_sampler(sequence_graph(10, 1)), (2, 3)).shape
    (2, 3)
    """
    return jax.random.randint(key, tuple(shape), 0, sampler.n, dtype=jnp.int32)


def _partner_at_weight(sampler: PairSampler, anchors: jax.Array, slot: jax.Array) -> jax.Array:
    """The neighbour whose share of its anchor's running weight sum covers ``slot``."""
    last = sampler.indices.shape[0] - 1
    end = sampler.indptr[anchors + 1]
    lo = _first_position(sampler, sampler.indptr[anchors], end,
                         lambda at: sampler.edge_cumsum[at] <= slot)
    position = jnp.clip(jnp.minimum(lo, end - 1), 0, last)
    return sampler.indices[position]


def _first_position(sampler: PairSampler, start: jax.Array, end: jax.Array,
                    before: Callable[[jax.Array], jax.Array]) -> jax.Array:
    """Binary search in the compressed rows: for each row ``[start, end)`` whose edges give
    ``before`` True then False, the first position where it is False (``end`` if none).

    ``sampler.search_steps`` halvings in a ``fori_loop``: its one loop body compiles about
    0.1 s sooner than the halvings unrolled, with the same result (the training step's
    parameters are equal), and the step runs no slower.
    """
    last = sampler.indices.shape[0] - 1

    def halve(_, bounds):
        lo, hi = bounds
        searching = lo < hi
        mid = lo + (hi - lo) // 2  # lo + hi may pass int32's range above 2**30 edges
        right = before(jnp.minimum(mid, last))
        return jnp.where(searching & right, mid + 1, lo), jnp.where(searching & ~right, mid, hi)

    lo, _ = jax.lax.fori_loop(0, sampler.search_steps, halve, (start, end))
    return lo


def _draw_similar(key: jax.Array, sampler: PairSampler, count: int) -> tuple[jax.Array, jax.Array]:
    """``count`` anchors (uniform among samples with neighbours) and one neighbour each."""
    key_anchor, key_rank = jax.random.split(key)
    pick = jax.random.randint(key_anchor, (count,), 0, sampler.active.shape[0])
    anchors = sampler.active[pick]
    rank = jax.random.randint(key_rank, (count,), 0, sampler.degree[anchors])
    return anchors, _partner_at_rank(sampler, anchors, rank)


def _partner_at_rank(sampler: PairSampler, anchors: jax.Array, rank: jax.Array) -> jax.Array:
    """The ``rank``-th similar sample of each anchor: its listed neighbours, then its group."""
    row_start = sampler.indptr[anchors]
    explicit = sampler.indptr[anchors + 1] - row_start
    listed = sampler.indices[jnp.minimum(row_start + rank, sampler.indices.shape[0] - 1)]
    in_group = rank - explicit
    in_group = in_group + (in_group >= sampler.group_rank[anchors])  # skip the anchor itself
    slot = jnp.clip(sampler.group_start[anchors] + in_group, 0, sampler.group_members.shape[0] - 1)
    return jnp.where(rank < explicit, listed, sampler.group_members[slot])


def _draw_dissimilar(
    key: jax.Array, sampler: PairSampler, count: int
) -> tuple[jax.Array, jax.Array]:
    """``count`` pairs uniform over the non-similar pairs, by rejection.

    Each round redraws, from a fresh key, only the pairs that are still similar; a pair keeps
    the first non-similar draw of its own sequence of independent draws, hence uniform.
    """
    n = sampler.n

    def draw(round_key: jax.Array) -> tuple[jax.Array, jax.Array]:
        key_i, key_j = jax.random.split(round_key)
        i = jax.random.randint(key_i, (count,), 0, n)
        j = jax.random.randint(key_j, (count,), 0, n - 1)
        return i, j + (j >= i)

    def redraw(state):
        round_index, i, j, rejected = state
        new_i, new_j = draw(jax.random.fold_in(key, round_index))
        i, j = jnp.where(rejected, new_i, i), jnp.where(rejected, new_j, j)
        return round_index + 1, i, j, is_similar(sampler, i, j)

    if count == 0:
        empty = jnp.zeros((0,), jnp.int32)
        return empty, empty
    i, j = draw(jax.random.fold_in(key, 0))
    state = (jnp.int32(1), i, j, is_similar(sampler, i, j))
    _, i, j, _ = jax.lax.while_loop(lambda s: jnp.any(s[3]), redraw, state)
    return i, j


def _bucket_steps(steps: int) -> int:
    """At least :data:`MIN_SEARCH_STEPS` binary-search steps, a power of two (0 stays 0)."""
    return max(MIN_SEARCH_STEPS, _next_power_of_two(steps)) if steps else 0


def _next_power_of_two(value: int) -> int:
    return 1 << max(0, int(value) - 1).bit_length()


def _pad(values: jax.Array) -> jax.Array:
    """``values`` followed by zeros up to the next power of two in length."""
    host = np.asarray(values)  # padded on the host: no program to compile per edge count
    padding = np.zeros(_next_power_of_two(host.size) - host.size, host.dtype)
    return jax.device_put(np.concatenate([host, padding]))


def _int32(values: np.ndarray) -> jax.Array:
    # device_put, not jnp.asarray: moving an array compiles nothing, whatever its length
    return jax.device_put(np.asarray(values, dtype=np.int32))


def _float32(values: np.ndarray) -> jax.Array:
    return jax.device_put(np.asarray(values, dtype=np.float32))


__all__ = [
    "PairSampler",
    "bucketed",
    "is_similar",
    "make_sampler",
    "sample_block",
    "sample_edges",
    "sample_negatives",
    "sample_pairs",
]
