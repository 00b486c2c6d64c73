"""The bridge to nbgrader: the exercise notebooks as data (``assignments``), building the
instructor masters and student notebooks with real ``nbgrader generate_assignment``
(``build``, ``hnm build``), and writing out-of-process scores into an nbgrader gradebook
(``gradebook``). May import the suites' registry; never the sandbox or the engine's runner.
"""
