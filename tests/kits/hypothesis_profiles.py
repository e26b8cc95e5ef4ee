"""Hypothesis profiles, picked by ``HYPOTHESIS_PROFILE`` (a pytest plugin, see pyproject).

``ci`` draws the same examples on every run, so a gate passes or fails on the code alone;
local runs (``default``) draw new ones each time and keep looking for cases.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
