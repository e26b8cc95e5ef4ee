"""``python -m atrium``: the ``atrium`` command line."""

from atrium.runtime.cli import main

raise SystemExit(main())
