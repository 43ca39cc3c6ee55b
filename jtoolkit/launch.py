"""``python -m jtoolkit.launch --nproc N SCRIPT [ARGS]`` (or ``-m MODULE [ARGS]``).

torchrun's role on one machine: starts N local processes wired for
``jax.distributed`` (``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
``JAX_PROCESS_ID``), forwards SIGINT/SIGTERM (SIGKILL after ``--term-timeout``
seconds), stops the job when any process fails and exits with its code, naming it,
and restarts a failed job ``--max-restarts`` times. For several machines use your
scheduler (SLURM, MPI, Kubernetes: ``jax.distributed.initialize`` detects them)
or pass ``--coordinator-address``, ``--num-processes`` and ``--process-id`` to
``python -m jtoolkit.train``.
"""

import sys

from jtoolkit._src.train.launch import main, worker_env

__all__ = ["main", "worker_env"]

if __name__ == "__main__":
    sys.exit(main())
