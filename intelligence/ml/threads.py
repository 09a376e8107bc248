"""The thread-pool limit training and scoring run inside. It lives apart from AutoML so that
scoring — which Django's start-up imports through the ML steps — loads no scikit-learn for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def limited_threads():
    """A context bounding OpenMP/BLAS threads to ML_THREADS. On a busy 2-core machine spinning
    OpenMP threads make a one-row HistGradientBoosting prediction ~50× slower (and training ~10×).
    The controller scans the loaded libraries once; entering a limit is then ~0.1 ms."""
    global _controller
    if _controller is None:
        # scikit-learn is imported on first use, so it may not be loaded yet: the controller only
        # limits the libraries loaded when it scans, and importing sklearn loads its OpenMP
        # runtime and SciPy's BLAS beside NumPy's.
        import sklearn  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=settings.ML_THREADS)
