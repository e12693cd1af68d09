"""Writes a Lightning `.ckpt` (as MARLIN's training saves: `{"state_dict": model tensors and the
discriminator's, "epoch": ...}`) from a torch zip state dict, without torch: the pickle is read
and written again with stand-ins for torch's globals, the tensor storages copied unchanged."""

import io
import pickle
import sys
import types
import zipfile


class _Call:
    """A call of a torch global (`_rebuild_tensor_v2(...)`), pickled back as the same call."""

    def __init__(self, function, args):
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


class _Storage:
    """A persistent storage reference, written back as it was read."""

    def __init__(self, pid):
        self.pid = pid


def _stand_in(module: str, name: str):
    """A stand-in for `module.name`, registered where pickle looks for it."""
    parts = module.split(".")
    for i in range(len(parts)):
        sys.modules.setdefault(".".join(parts[: i + 1]), types.ModuleType(".".join(parts[: i + 1])))
    mod = sys.modules[module]
    if not hasattr(mod, name):
        if name[0].isupper():
            value = type(name, (), {"__module__": module})
        else:
            def value(*args, _name=name):
                return _Call(getattr(mod, _name), args)

            value.__module__, value.__qualname__, value.__name__ = module, name, name
        setattr(mod, name, value)
    return getattr(mod, name)


class _Reader(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "torch":
            return _stand_in(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return _Storage(pid)


class _Writer(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Storage) else None


def write_lightning_ckpt(state_dict_pt, ckpt):
    if "torch" in sys.modules and hasattr(sys.modules["torch"], "load"):
        raise RuntimeError("torch is imported: these stand-ins would shadow it")
    with zipfile.ZipFile(state_dict_pt) as src:
        pkl = next(n for n in src.namelist() if n.endswith("/data.pkl"))
        state = _Reader(io.BytesIO(src.read(pkl))).load()
        first = next(iter(state))
        state["discriminator.layers.0.weight"] = state[first]
        out = io.BytesIO()
        _Writer(out, protocol=2).dump({"epoch": 3, "global_step": 120, "state_dict": state, "pytorch-lightning_version": "1.7.7"})
        with zipfile.ZipFile(ckpt, "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                dst.writestr(info, out.getvalue() if info.filename == pkl else src.read(info.filename))
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        del sys.modules[name]
