"""``python -m replay_core``: train, inspect and plot runs from the command line."""

from replay_core.cli import main

raise SystemExit(main())
