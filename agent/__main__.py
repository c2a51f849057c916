"""Run the agent. The worker image runs ``python3 -I -u /opt/code-engine``.

The image installs this file twice: in the package, and as
/opt/code-engine/__main__.py beside it. Running that directory puts it first on
sys.path (even under -I, which adds neither the script's directory nor
PYTHONPATH), so ``agent`` is found there. The package stays out of
site-packages, where every job's Python would find it too. Anywhere else,
``python -m agent`` runs it too, and it refuses to start unless it is PID 1.
"""

from __future__ import annotations

import sys

from agent.loop import main

if __name__ == "__main__":
    sys.exit(main())
