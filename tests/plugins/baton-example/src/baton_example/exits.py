"""A plugin module that exits the process as it is imported."""

import sys

sys.exit("baton_example.exits gives up")
