"""Default experiment configs shipped with the library (the experiments/ files re-export them)."""
