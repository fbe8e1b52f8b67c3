"""Reading and writing: the safe archive of ``save`` / ``load``, and memory-mapped rows."""
