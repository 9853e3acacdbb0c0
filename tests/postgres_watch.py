"""Stop a test run's PostgreSQL server once the run's process has gone, however it ended (a timeout's kill too).

Started by ``conftest.start_postgres`` as the run's child in a session of its own, so that a signal to the run's
process group does not reach it: ``python postgres_watch.py RUN_PID SERVER_FOLDER STOP_COMMAND...``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time


def main(run: int, folder: str, stop: list[str]) -> None:
    """Wait while process ``run`` is this one's parent (an orphan is adopted by another), then run the ``stop``
    command and remove the server's folder."""
    while os.getppid() == run:
        time.sleep(0.5)
    subprocess.run(stop, capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3:])
