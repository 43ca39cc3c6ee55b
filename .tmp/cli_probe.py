import contextlib, io, os, subprocess, sys, tempfile, traceback, gzip, struct
os.environ["JTOOLKIT_COMPILATION_CACHE"] = "0"
from jtoolkit._src.demo.cli import main
T = tempfile.mkdtemp(dir=".tmp")
B = ["--dataset", "synthetic", "--no-progress", "--epochs", "1"]
os.makedirs(f"{T}/adir"); os.makedirs(f"{T}/mn")
open(f"{T}/afile", "w").close()
os.symlink(f"{T}/afile", f"{T}/alink")
with open(f"{T}/mn/train-images-idx3-ubyte", "wb") as f: f.write(b"garbage!")
with open(f"{T}/mn/train-labels-idx1-ubyte", "wb") as f: f.write(b"garbage!")
os.makedirs(f"{T}/ro"); subprocess.run(["mount","--bind",f"{T}/ro",f"{T}/ro"]); subprocess.run(["mount","-o","remount,bind,ro",f"{T}/ro"])
cases = [
 ("--metrics-file ''", B+["--metrics-file", ""]),
 ("--metrics-file DIR", B+["--metrics-file", f"{T}/adir"]),
 ("--metrics-file DIR/", B+["--metrics-file", f"{T}/adir/"]),
 ("--metrics-file nodir/m.jsonl", B+["--metrics-file", f"{T}/nodir/m.jsonl"]),
 ("--metrics-file RO/m.jsonl", B+["--metrics-file", f"{T}/ro/m.jsonl"]),
 ("--metrics-file SYMLINK", B+["--metrics-file", f"{T}/alink"]),
 ("--plot ''", B+["--plot", ""]),
 ("--plot DIR", B+["--plot", f"{T}/adir"]),
 ("--plot RO/p.png", B+["--plot", f"{T}/ro/p.png"]),
 ("--checkpoint-dir ''", B+["--checkpoint-dir", ""]),
 ("--checkpoint-dir FILE", B+["--checkpoint-dir", f"{T}/afile"]),
 ("--checkpoint-dir FILE/sub", B+["--checkpoint-dir", f"{T}/afile/sub"]),
 ("--checkpoint-dir RO/ck", B+["--checkpoint-dir", f"{T}/ro/ck"]),
 ("--checkpoint-dir RO", B+["--checkpoint-dir", f"{T}/ro"]),
 ("--resume --checkpoint-dir EMPTYDIR", B+["--resume","--checkpoint-dir", f"{T}/adir"]),
 ("--dataset mnist --data-dir garbage", ["--dataset","mnist","--data-dir",f"{T}/mn","--no-progress","--epochs","1"]),
 ("--dataset mnist --data-dir ''", ["--dataset","mnist","--data-dir","","--no-progress","--epochs","1"]),
 ("--dataset mnist --data-dir FILE", ["--dataset","mnist","--data-dir",f"{T}/afile","--no-progress","--epochs","1"]),
 ("--val-split 0.9999", B+["--val-split","0.9999"]),
 ("--val-split 0.0001", B+["--val-split","0.0001"]),
 ("--batch-size 100000", B+["--batch-size","100000"]),
 ("--batch-size 0", B+["--batch-size","0"]),
 ("--epochs abc", B+["--epochs","abc"]),
 ("--lr -1", B+["--lr","-1"]),
 ("--steps-per-execution 0", B+["--steps-per-execution","0"]),
 ("--num-workers -1", B+["--num-workers","-1"]),
 ("--coordinator-address nohost:1 --num-processes 2 --process-id 1", B+["--coordinator-address","nohost:1","--num-processes","2","--process-id","1"]),
]
only = sys.argv[1:] 
for name, argv in cases:
    if only and not any(o in name for o in only): continue
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
        except BaseException as e:
            rc = "TRACEBACK"; traceback.print_exc(file=err)
    lines = [l for l in err.getvalue().splitlines() if l.strip()]
    print(f"{name} | rc={rc} | lines={len(lines)} | {lines[-1] if rc=='TRACEBACK' else (lines[0] if lines else out.getvalue().strip().splitlines()[-1:])}", flush=True)
subprocess.run(["umount", f"{T}/ro"])
