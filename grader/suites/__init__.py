"""What is checked: one module per exercise (its properties, inputs and checks), the
Hypothesis strategies they draw from (``strategies``, ``box_strategies``), helpers shared by
the suites (``_common``) and the registry of exercises in grade-column order (``registry``).

Suites may import ``solutions`` (the references), the engine's model and the codec; the
sandbox's student side never imports a suite.
"""
