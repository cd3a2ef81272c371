"""XLA compiler options for programs that a fit compiles once and runs briefly.

A cold fit spends more time compiling than training (issue 15). The initial parameters,
the optimizer's initial state and the exact neighbour search run once or a few times per
fit, so how long XLA takes to compile them matters more than how fast their code is.
LLVM's optimisation level 2, instead of XLA's default 3, compiled them sooner on 2 AMD EPYC
cores (parameters of the paper's network 0.42 s against 0.57 s, the 4/9 digits' neighbour
search 0.25 s against 0.38 s), with the same run time, bitwise the same parameters (tested)
and the same neighbours.

The training step keeps XLA's defaults: level 2 compiled it 0.2 s sooner (1.06 s against
1.24 s), but for some losses and shapes (InfoNCE, UMAP) its results then differed from
level 3's in the last bits, and a fit's results must not depend on how it was compiled.

>>> FAST_COMPILE
{'xla_backend_optimization_level': 2}
"""

from __future__ import annotations

FAST_COMPILE = {"xla_backend_optimization_level": 2}

__all__ = ["FAST_COMPILE"]
