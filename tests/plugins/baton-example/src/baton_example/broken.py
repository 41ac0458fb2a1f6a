"""A plugin module that cannot be imported."""

raise ImportError("baton_example.broken needs a library that is not installed")
