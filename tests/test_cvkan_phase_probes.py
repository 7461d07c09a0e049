"""cvkan.phase_probes.accuracy: an exact count ratio."""

import numpy as np
import torch

from spectral_manifolds.cvkan import phase_probes as pp


def test_accuracy_is_an_exact_count_ratio():
    """Two code paths (train_classifier's evaluate and phase_probes.accuracy) must give the same
    number for the same predictions: 1999 of 2000 right is exactly 0.9995."""
    y = np.zeros(2000, dtype=np.int64)
    logits = torch.zeros(2000, 2)
    logits[:, 0] = 1.0
    logits[0, 1] = 2.0
    assert pp.accuracy(logits, y) == 1999 / 2000
