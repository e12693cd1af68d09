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
const MAX_MODULES: usize = 10_000;

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

#[cfg(test)]
mod tests {
    use super::*;
    use marlin_checkpoint::pickle::{Global, Resolver, load};

    struct Inert;
    impl Resolver for Inert {
        fn persistent_load(&mut self, _: &Value) -> Result<Value, String> {
            Err("no storages".into())
        }
        fn reduce(&mut self, _: &Global, _: &[Value]) -> Result<Option<Value>, String> {
            Ok(None)
        }
    }

    #[test]
    fn a_module_that_is_its_own_child_twice_over_ends() {
        // m = M(); m.__dict__ = {'_modules': {'a': m, 'b': m}}: 2^depth paths without a bound
        let pickle = b"\x80\x02c__main__\nM\n)\x81q\x00}q\x01X\x08\x00\x00\x00_modules}q\x02(X\x01\x00\x00\x00ah\x00X\x01\x00\x00\x00bh\x00usb.";
        let (module, _) = load(pickle, &mut Inert).unwrap();
        let mut out = BTreeMap::new();
        collect(&module, "", &mut out);
        assert!(out.is_empty());
    }
}
