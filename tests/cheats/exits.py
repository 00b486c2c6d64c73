"""Calls sys.exit(0) from its functions (the worker must survive it and give nothing)."""
import sys


def batch_hard(dist, labels):
    sys.exit(0)


def pairwise_distances(embeddings, squared=False):
    raise SystemExit(0)
