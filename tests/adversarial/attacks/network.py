"""Connects out: TCP to a listener of the grading machine, UDP, raw and netlink sockets."""
import socket

WON = "ST" + "OLEN"  # spelt out at run time: tracebacks quote the source


def batch_hard(dist, labels):
    refused = []
    for name, attempt in (
        ("tcp", lambda: socket.create_connection(("127.0.0.1", int("@PORT@")), timeout=2)),
        ("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", int("@PORT@")))),
        ("tcp6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM)),
        ("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)),
    ):
        try:
            attempt()
            refused.append(f"{name}: CONNECTED")
        except OSError as exc:
            refused.append(f"{name}: {exc.strerror}")
    outcome = WON + ": " if "CONNECTED" in " ".join(refused) else "blocked: "
    raise RuntimeError(outcome + "; ".join(refused))
