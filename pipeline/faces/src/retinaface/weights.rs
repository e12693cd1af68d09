//! The detector's tensors from FaceX-Zoo's pickled whole module: the module tree
//! (`_modules`, `_parameters`, `_buffers` of each `nn.Module`'s state) walked into dotted names
//! as a state dict would have them (`body.stage1.0.0.weight`, `fpn.output1.1.running_mean`…).
//! No code from the pickle runs: the checkpoint crate builds inert values.

use std::collections::BTreeMap;

use marlin_checkpoint::Tensor;
use marlin_checkpoint::pickle::Value;

/// How deep a module tree may nest, and how many modules it may hold: RetinaFace nests four
/// deep in a few hundred modules; a pickle can make a module its own child.
const MAX_DEPTH: usize = 32;
const MAX_MODULES: usize = 100_000;

/// Collects every parameter and buffer under `module` into `out`, names prefixed by `prefix`.
pub fn collect(module: &Value, prefix: &str, out: &mut BTreeMap<String, Tensor>) {
    let mut left = MAX_MODULES;
    walk(module, prefix, out, 0, &mut left);
}

fn walk(module: &Value, prefix: &str, out: &mut BTreeMap<String, Tensor>, depth: usize, left: &mut usize) {
    let Value::Object(obj) = module else { return };
    if depth > MAX_DEPTH || *left == 0 {
        return;
    }
    *left -= 1;
    let Some(state) = obj.try_borrow().ok().and_then(|o| o.state.clone()) else { return };
    for key in ["_parameters", "_buffers"] {
        for (name, value) in state.get(key).and_then(|d| d.dict_items()).unwrap_or_default() {
            if let (Some(name), Value::Tensor(t)) = (name.as_str(), &value) {
                out.insert(format!("{prefix}{name}"), (**t).clone());
            }
        }
    }
    for (name, child) in state.get("_modules").and_then(|d| d.dict_items()).unwrap_or_default() {
        if let Some(name) = name.as_str() {
            walk(&child, &format!("{prefix}{name}."), out, depth + 1, left);
        }
    }
}
