import torch, zipfile, io, os, sys, resource
p = ".tmp/big.pt"
torch.save({"weight": torch.zeros(2**27)}, p)
z = zipfile.ZipFile(p)
with zipfile.ZipFile(".tmp/bomb.pt", "w") as out:
    for info in z.infolist():
        data = z.read(info.filename)
        out.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
os.unlink(p)
print(os.path.getsize(".tmp/bomb.pt"))
