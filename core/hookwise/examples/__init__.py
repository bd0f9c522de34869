"""Runnable examples; ``default.toml`` is the job ``hookwise fit`` runs with no config.

:mod:`hookwise.examples.digits` trains a small network on scikit-learn's bundled handwritten
digits (1797 8x8 images, shipped inside scikit-learn, so it works offline). It needs the
``examples`` extra: ``pip install "hookwise[examples]"``.
"""
