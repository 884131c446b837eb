"""Data: RLDS reading and writing, trajectory windows, dataset makers."""
