"""os._exit, SIGKILL of itself and a segmentation fault through ctypes."""
import os
import signal


def batch_hard(dist, labels):
    os._exit(0)


def semi_hard_negatives(dist, labels, margin):
    os.kill(os.getpid(), signal.SIGKILL)


def pairwise_distances(embeddings, squared=False):
    import ctypes

    ctypes.string_at(0)  # reads address 0: a segmentation fault if ctypes is reachable


def distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    import ctypes

    ctypes.CDLL(None).abort()
