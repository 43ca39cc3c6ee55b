import os, subprocess, sys, tempfile
import jax.numpy as jnp, numpy as np
from jtoolkit.checkpoint import save_checkpoint, restore_checkpoint, latest_step
d = tempfile.mkdtemp(dir=".tmp")
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", d], check=True)
try:
    ck = os.path.join(d, "ck")
    save_checkpoint(ck, {"w": jnp.ones(1000)}, 1)
    try:
        save_checkpoint(ck, {"w": jnp.asarray(np.random.default_rng(0).random(200000, np.float32))}, 2)
    except Exception as e:
        print("ENOSPC ->", type(e).__mro__[:3], e.errno if isinstance(e, OSError) else None, "|", e)
    print(latest_step(ck), os.listdir(ck))
    print(restore_checkpoint(ck, {"w": jnp.zeros(1000)})["w"][:3])
    subprocess.run(["mount", "-o", "remount,ro", d], check=True)
    try:
        save_checkpoint(ck, {"w": jnp.ones(1000)}, 3)
    except Exception as e:
        print("EROFS ->", type(e).__name__, e.errno if isinstance(e, OSError) else None, "|", e)
    print(restore_checkpoint(ck, {"w": jnp.zeros(1000)})["w"][:3])
finally:
    from jtoolkit._src.checkpoint.lock import release_writer_lock; release_writer_lock(ck)
    subprocess.run(["umount", d])
    os.rmdir(d)
