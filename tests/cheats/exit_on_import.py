"""Exits while being loaded."""
import sys

sys.exit(0)


def batch_hard(dist, labels):
    return dist, dist, dist
