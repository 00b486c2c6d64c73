"""A memory bomb, a fork bomb, a process that outlives its worker, and a network call."""
import os
import socket
import subprocess


def batch_hard(dist, labels):
    hog = []
    while True:
        hog.append(bytearray(1 << 28))


def semi_hard_negatives(dist, labels, margin):
    while True:
        os.fork()


def pairwise_distances(embeddings, squared=False):
    subprocess.Popen(["sleep", "600"], start_new_session=True)
    return embeddings


def distance_weights(dist, labels, dim, cutoff=0.5, nonzero_loss_cutoff=1.4):
    socket.create_connection(("127.0.0.1", 9), timeout=1)
    return dist
