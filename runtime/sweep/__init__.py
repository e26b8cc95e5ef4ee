"""``atrium sweep``: many deterministic replays over a grid of config values.

- :mod:`.grid`: GRID.toml, the points it names, and their configs.
- :mod:`.points`: a point's id (a hash of its resolved config) and its outcome.
- :mod:`.local` and :mod:`.ray_engine`: run points in local processes or on a Ray cluster.
- :mod:`.results`: results.csv, results.parquet and timings.csv.
- :mod:`.search`: grid, random and Optuna searches.
- :mod:`.walk`: walk-forward windows.
- :mod:`.html`: sweep.html.
- :mod:`.run`: the command, tying them together.
"""
