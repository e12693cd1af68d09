//! PyTorch's two file layouts: the zip archive (`<name>/data.pkl` with one entry per storage
//! under `<name>/data/`) and the legacy stream (magic, protocol, sys-info and object pickles,
//! the storage key list, then each storage as `u64 numel` + raw bytes).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek};
use std::path::Path;
use std::rc::Rc;

use crate::pickle::{self, Global, Resolver, Storage, Value};
use crate::tensor::{from_strided, view_end};
use crate::{CheckpointError, DType, LEGACY_MAGIC, Tensor};

fn corrupt(path: &Path, detail: impl Into<String>) -> CheckpointError {
    CheckpointError::Corrupt { path: path.to_path_buf(), detail: detail.into() }
}

/// The largest object pickle (`data.pkl`) a zip archive may hold: a state dict's takes a few
/// hundred kilobytes, a pickled module a few megabytes.
const MAX_PICKLE_BYTES: u64 = 64 << 20;

/// Reads a `torch.save` zip archive into its object tree. Storages are read when a tensor
/// needs them, and no further than it needs.
pub(crate) fn load_zip<R: Read + Seek>(reader: R, path: &Path) -> Result<Value, CheckpointError> {
    let mut archive =
        zip::ZipArchive::new(reader).map_err(|e| corrupt(path, format!("zip archive unreadable ({e})")))?;
    let pkl_name = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|n| n.ends_with("/data.pkl") || n == "data.pkl")
        .map(|n| n.into_owned())
        .ok_or_else(|| CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            detail: "zip archive without data.pkl".into(),
        })?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    if let Ok(bo) = archive.by_name(&format!("{prefix}byteorder")) {
        let mut s = String::new();
        bo.take(64).read_to_string(&mut s).map_err(|e| corrupt(path, format!("byteorder entry: {e}")))?;
        if s.trim() != "little" {
            return Err(CheckpointError::Unsupported {
                path: path.to_path_buf(),
                detail: format!("byte order {:?} (only little-endian is supported)", s.trim()),
            });
        }
    }
    let declared = archive.by_name(&pkl_name).map(|e| e.size()).unwrap_or(0);
    if declared > MAX_PICKLE_BYTES {
        return Err(CheckpointError::Unsupported {
            path: path.to_path_buf(),
            detail: format!(
                "{pkl_name} holds {declared} bytes; no checkpoint's object pickle is above {MAX_PICKLE_BYTES}"
            ),
        });
    }
    let pkl = read_entry(&mut archive, &pkl_name, path, MAX_PICKLE_BYTES)?;
    let mut resolver = ZipStorages { archive, prefix, path, budget: Budget::default() };
    let (value, _) = pickle::load(&pkl, &mut resolver).map_err(|e| corrupt(path, format!("data.pkl: {e}")))?;
    Ok(value)
}

/// At most `limit` bytes of an archive entry.
fn read_entry<R: Read + Seek>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
    path: &Path,
    limit: u64,
) -> Result<Vec<u8>, CheckpointError> {
    let entry = archive.by_name(name).map_err(|e| corrupt(path, format!("entry {name}: {e}")))?;
    // the declared size comes from the file: cap the up-front reservation
    let mut buf = Vec::with_capacity(entry.size().min(limit).min(1 << 24) as usize);
    entry.take(limit).read_to_end(&mut buf).map_err(|e| corrupt(path, format!("entry {name}: {e}")))?;
    Ok(buf)
}

struct ZipStorages<'p, R> {
    archive: zip::ZipArchive<R>,
    prefix: String,
    path: &'p Path,
    budget: Budget,
}

impl<R: Read + Seek> Resolver for ZipStorages<'_, R> {
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, String> {
        let (dtype, key, numel) = parse_storage_pid(pid)?;
        Ok(Value::Storage(Rc::new(Storage { dtype, key, numel, offset: 0 })))
    }
    fn reduce(&mut self, callable: &Global, args: &[Value]) -> Result<Option<Value>, String> {
        // each tensor reads its storage's entry on its own: no second copy of the weights
        let (archive, prefix, path) = (&mut self.archive, &self.prefix, self.path);
        rebuild_tensor(callable, args, &mut self.budget, &mut |st: &Storage, end: usize| {
            let name = format!("{prefix}data/{}", st.key);
            let size = st.dtype.size() as u64;
            let stored = archive.by_name(&name).map_err(|e| format!("storage {}: {e}", st.key))?.size();
            if Some(stored) != (st.numel as u64).checked_mul(size) {
                return Err(format!(
                    "storage {} holds {stored} bytes, its header says {} elements of {size} bytes",
                    st.key, st.numel
                ));
            }
            // read what the tensor needs, no more: an entry can inflate far beyond the file
            let want = end as u64 * size;
            let bytes = read_entry(archive, &name, path, want).map_err(|e| e.to_string())?;
            if (bytes.len() as u64) < want {
                return Err(format!("storage {} ends after {} of its {stored} bytes", st.key, bytes.len()));
            }
            Ok(Cow::Owned(bytes))
        })
    }
}

/// Reads a legacy (non-zip) torch file, all in `data`, into its object tree.
pub(crate) fn load_legacy(data: &[u8], path: &Path) -> Result<Value, CheckpointError> {
    let mut pos = LEGACY_MAGIC.len();
    let mut noop = PidCollector(HashMap::new());
    let next = |pos: &mut usize, r: &mut dyn Resolver| -> Result<Value, CheckpointError> {
        let rest = data.get(*pos..).ok_or_else(|| corrupt(path, "file ends early"))?;
        let (v, used) = pickle::load(rest, r).map_err(|e| corrupt(path, e))?;
        *pos += used;
        Ok(v)
    };
    let protocol = next(&mut pos, &mut noop)?;
    if protocol.as_int() != Some(1001) {
        return Err(CheckpointError::Unsupported {
            path: path.to_path_buf(),
            detail: format!("legacy protocol version {protocol:?} (expected 1001)"),
        });
    }
    let sys_info = next(&mut pos, &mut noop)?;
    if let Some(Value::Bool(false)) = sys_info.get("little_endian") {
        return Err(CheckpointError::Unsupported { path: path.to_path_buf(), detail: "big-endian legacy file".into() });
    }
    // The object pickle refers to storages whose bytes come after it: record the ids first,
    // then locate the storages, and resolve the tensors in a second pass.
    let mut ids = PidCollector(HashMap::new());
    let obj_start = pos;
    let _ = next(&mut pos, &mut ids)?;
    let keys = next(&mut pos, &mut noop)?;
    let keys = keys.items().ok_or_else(|| corrupt(path, "storage key list missing"))?;
    let mut spans = HashMap::new();
    for key in keys {
        let key = key.as_str().ok_or_else(|| corrupt(path, "storage key is not a string"))?.to_string();
        let Some(&(dtype, numel)) = ids.0.get(&key) else {
            return Err(corrupt(path, format!("storage {key} listed but never used")));
        };
        let head = data.get(pos..pos + 8).ok_or_else(|| corrupt(path, format!("storage {key}: file ends early")))?;
        let n = u64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
        pos += 8;
        if n != numel as u64 {
            return Err(corrupt(path, format!("storage {key}: {n} elements, expected {numel}")));
        }
        let len =
            numel.checked_mul(dtype.size()).ok_or_else(|| corrupt(path, format!("storage {key}: size overflows")))?;
        if data.len() - pos < len {
            return Err(corrupt(path, format!("storage {key}: file ends early ({} of {len} bytes)", data.len() - pos)));
        }
        spans.insert(key, pos..pos + len);
        pos += len;
    }
    let mut storages = LegacyStorages { data, spans, budget: Budget::default() };
    let (value, _) = pickle::load(&data[obj_start..], &mut storages).map_err(|e| corrupt(path, e))?;
    Ok(value)
}

/// Storages of a legacy file: byte ranges of the file, by key.
struct LegacyStorages<'d> {
    data: &'d [u8],
    spans: HashMap<String, std::ops::Range<usize>>,
    budget: Budget,
}

impl Resolver for LegacyStorages<'_> {
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, String> {
        if let Some(class) = module_class_pid(pid) {
            return Ok(class);
        }
        let (dtype, key, numel) = parse_storage_pid(pid)?;
        let offset = legacy_view_offset(pid);
        Ok(Value::Storage(Rc::new(Storage { dtype, key, numel, offset })))
    }
    fn reduce(&mut self, callable: &Global, args: &[Value]) -> Result<Option<Value>, String> {
        let (data, spans) = (self.data, &self.spans);
        rebuild_tensor(callable, args, &mut self.budget, &mut |st: &Storage, end: usize| {
            let span = spans.get(&st.key).ok_or_else(|| format!("storage {} has no data", st.key))?;
            let want = end.checked_mul(st.dtype.size()).filter(|&w| w <= span.len()).ok_or_else(|| {
                format!("a tensor reaches element {end} of storage {}, which holds {} bytes", st.key, span.len())
            })?;
            Ok(Cow::Borrowed(&data[span.start..span.start + want]))
        })
    }
}

/// A whole pickled module (legacy `torch.save(model)`) names each module class by a persistent
/// id `("module", class, source file, source text)`, which torch checks against the running
/// code. We take the class as an inert global and never look at the source.
fn module_class_pid(pid: &Value) -> Option<Value> {
    let items = pid.items()?;
    match items.as_slice() {
        [kind, class @ Value::Global(_), ..] if kind.as_str() == Some("module") => Some(class.clone()),
        _ => None,
    }
}

/// First pass over a legacy object pickle: records each storage's type and size, builds no
/// tensors.
struct PidCollector(HashMap<String, (DType, usize)>);

impl Resolver for PidCollector {
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, String> {
        if let Some(class) = module_class_pid(pid) {
            return Ok(class);
        }
        let (dtype, key, numel) = parse_storage_pid(pid)?;
        self.0.entry(key).or_insert((dtype, numel));
        Ok(Value::None)
    }
    fn reduce(&mut self, _: &Global, _: &[Value]) -> Result<Option<Value>, String> {
        Ok(None)
    }
}

/// `('storage', torch.<Type>Storage, key, location, numel[, view_metadata])`
fn parse_storage_pid(pid: &Value) -> Result<(DType, String, usize), String> {
    let t = pid.items().ok_or("persistent id is not a tuple")?;
    if t.len() < 5 || t[0].as_str() != Some("storage") {
        return Err(format!("unsupported persistent id {pid:?}"));
    }
    let dtype = match &t[1] {
        Value::Global(g) => storage_dtype(&g.name).ok_or_else(|| format!("unsupported storage type {}", g.path()))?,
        other => return Err(format!("storage type is not a class: {other:?}")),
    };
    let key = match &t[2] {
        Value::Str(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        other => return Err(format!("storage key {other:?}")),
    };
    let numel = t[4].as_int().filter(|&n| n >= 0).ok_or("storage size is not a count")? as usize;
    Ok((dtype, key, numel))
}

/// The element offset of a legacy storage view (`view_metadata = (key, offset, size)`).
fn legacy_view_offset(pid: &Value) -> usize {
    let t = pid.items().unwrap_or_default();
    match t.get(5) {
        Some(Value::Tuple(view)) => view.get(1).and_then(Value::as_int).unwrap_or(0).max(0) as usize,
        _ => 0,
    }
}

fn storage_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// The bytes of a storage up to the given element (exclusive), read when a tensor needs them.
type StorageBytes<'a> = dyn FnMut(&Storage, usize) -> Result<Cow<'a, [u8]>, String> + 'a;

/// Bounds the values a file's tensors hold to twice what its storages store: views may share a
/// storage (a slice, a transposed copy), but a pickle could point any number of tensors at one.
#[derive(Default)]
struct Budget {
    seen: std::collections::HashSet<String>,
    stored: usize,
    built: usize,
}

impl Budget {
    fn charge(&mut self, storage: &Storage, numel: usize) -> Result<(), String> {
        if self.seen.insert(storage.key.clone()) {
            self.stored = self.stored.saturating_add(storage.numel);
        }
        self.built = self.built.saturating_add(numel);
        if self.built > self.stored.saturating_mul(2) {
            return Err(format!(
                "its tensors would hold {} values from the {} its storages store (views repeating the same data)",
                self.built, self.stored
            ));
        }
        Ok(())
    }
}

/// torch's tensor and parameter rebuilders; `None` for any other callable.
fn rebuild_tensor<'a>(
    callable: &Global,
    args: &[Value],
    budget: &mut Budget,
    bytes_of: &mut StorageBytes<'a>,
) -> Result<Option<Value>, String> {
    match (callable.module.as_str(), callable.name.as_str()) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
            if args.len() < 4 {
                return Err(format!("{} with {} arguments", callable.path(), args.len()));
            }
            let Value::Storage(storage) = &args[0] else {
                return Err("tensor without a storage".into());
            };
            let offset = args[1].as_int().filter(|&o| o >= 0).ok_or("bad storage offset")? as usize;
            let dims = |v: &Value, what: &str| -> Result<Vec<usize>, String> {
                v.items()
                    .ok_or_else(|| format!("tensor {what} is not a tuple"))?
                    .iter()
                    .map(|d| {
                        d.as_int().filter(|&d| d >= 0).map(|d| d as usize).ok_or_else(|| format!("bad tensor {what}"))
                    })
                    .collect()
            };
            let shape = dims(&args[2], "size")?;
            let stride = dims(&args[3], "stride")?;
            if shape.len() != stride.len() {
                return Err("tensor size and stride differ in rank".into());
            }
            let start = storage.offset.checked_add(offset).ok_or("bad storage offset")?;
            let end = view_end(start, &shape, &stride).ok_or("tensor view size overflows")?;
            if end > storage.numel {
                return Err(format!(
                    "tensor of shape {shape:?} reaches element {end} of storage {}, which holds {}",
                    storage.key, storage.numel
                ));
            }
            let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or("tensor size overflows")?;
            budget.charge(storage, numel)?;
            let bytes = bytes_of(storage, end)?;
            let t = from_strided(&bytes, storage.dtype, start, &shape, &stride)?;
            Ok(Some(Value::Tensor(Rc::new(t))))
        }
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            Ok(Some(args.first().cloned().ok_or("parameter without data")?))
        }
        ("torch._tensor", "_rebuild_from_type_v2") => match (args.first(), args.get(2)) {
            (Some(Value::Global(f)), Some(inner)) => {
                rebuild_tensor(f, &inner.items().unwrap_or_default(), budget, bytes_of)
            }
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Finds the state dict in a loaded object: the root dict itself, or the dict under
/// `state_dict` / `model` / `module` (Lightning and training checkpoints).
pub(crate) fn state_dict(root: &Value, path: &Path) -> Result<BTreeMap<String, Tensor>, CheckpointError> {
    fn tensors_of(v: &Value) -> BTreeMap<String, Tensor> {
        let mut out = BTreeMap::new();
        for (k, v) in v.dict_items().unwrap_or_default() {
            if let (Some(k), Value::Tensor(t)) = (k.as_str(), &v) {
                out.insert(k.to_string(), (**t).clone());
            }
        }
        out
    }
    let direct = tensors_of(root);
    if !direct.is_empty() {
        return Ok(direct);
    }
    for key in ["state_dict", "model", "module"] {
        if let Some(inner) = root.get(key) {
            let t = tensors_of(&inner);
            if !t.is_empty() {
                return Ok(t);
            }
        }
    }
    Err(CheckpointError::NoTensors {
        path: path.to_path_buf(),
        detail: "the pickled object is not a state dict (nor holds one under state_dict/model/module)".into(),
    })
}
