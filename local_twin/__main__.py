"""``python -m local_twin``: the ``make local`` driver (see local_twin/cli.py)."""

from local_twin.cli import main

raise SystemExit(main())
