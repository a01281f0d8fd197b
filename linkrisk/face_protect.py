"""What a scenario does to face templates: added capture noise, or a keyed rotation.

``degrade_template`` adds capture noise of length ``level``; ``protect_template`` releases
a keyed random rotation of each template (a cancellable template: Teoh, Ngo and Goh's
BioHashing, IEEE TPAMI 28, 2006, without its binarisation), one key per key scope. See
docs/faces.md for the limits of each.
"""

from __future__ import annotations

import numpy as np

from linkrisk.face import unit_rows


def rotation(key: bytes, dimension: int) -> np.ndarray:
    """A random orthogonal matrix drawn from a key (QR of a Gaussian, signs fixed; Mezzadri 2007).

    Examples
    --------
    >>> r = rotation(b"k" * 32, 4)
    >>> bool(np.allclose(r @ r.T, np.eye(4), atol=1e-6))
    True
    """
    rng = np.random.default_rng(int.from_bytes(key[:16], "little"))
    qm, rm = np.linalg.qr(rng.standard_normal((dimension, dimension)))
    return (qm * np.sign(np.diag(rm))).astype(np.float32)


def transform_templates(m: np.ndarray, technique: str, level, key: bytes | None,
                        rng: np.random.Generator) -> np.ndarray:
    """Apply a scenario's template technique to unit templates (rows).

    Examples
    --------
    >>> m = np.array([[1.0, 0.0]], np.float32)
    >>> transform_templates(m, "degrade_template", 0.0, None, np.random.default_rng(0)).tolist()
    [[1.0, 0.0]]
    """
    if technique == "degrade_template":
        d = m.shape[1]
        g = rng.standard_normal(m.shape, dtype=np.float32)
        return unit_rows(m + g * np.float32(float(level) / np.sqrt(d)))
    if technique == "protect_template" and key is not None:
        return unit_rows(m @ rotation(key, m.shape[1]).T)
    return m


__all__ = ["rotation", "transform_templates"]
