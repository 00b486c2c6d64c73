"""The process boundary around student code: everything that touches it lives here.

``worker`` is the student side (a child process that loads the submission and answers
requests); ``parent`` starts, talks to, times out and replaces workers; ``codec`` is the
plain-data encoding both sides speak; ``scale`` builds the large inputs of the speed
properties on either side; ``confine`` is the kernel confinement (namespaces, limits,
privileges, Landlock, seccomp) the worker applies to itself before any student code runs.
Modules here may import the standard library, torch, numpy and each other only: never
``solutions``, the engine or the suites (a test walks the imports).
"""
