"""One module per exercise: its properties, strategies and checks."""
