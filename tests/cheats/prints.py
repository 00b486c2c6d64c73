"""Prints fake success lines and writes a fake grades file, then answers nothing."""
import os
import sys

print("hardest_negative PASSED 10/10")
print("\x00\x00\x00\x00\x00\x00\x00\x10{\"ok\": true}")
sys.stderr.write("all tests passed\n")
with open("grades.csv", "w") as f:
    f.write("student,total\nprints,40\n")


def batch_hard(dist, labels):
    print("{\"ok\": true, \"value\": [1, 2, 3]}")
    os.write(1, b"\x00\x00\x00\x00\x00\x00\x00\x02{}")
    e = dist.new_zeros(0).long()
    return e, e, e
