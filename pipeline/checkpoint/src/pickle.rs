//! A pickle virtual machine that builds a value tree and never executes code.
//!
//! Globals (`GLOBAL`, `STACK_GLOBAL`) become [`Value::Global`] names; `REDUCE`, `NEWOBJ` and
//! `BUILD` become [`Object`]s that record the callable, its arguments and its state. The caller
//! decides what a few well-known callables mean (torch's tensor rebuilders) through a
//! [`Resolver`], so tensors come out as values while everything else stays inert data.
//!
//! A pickle is a program: it can nest values a million levels deep, make a list hold itself or
//! push without end. The machine bounds what it runs ([`MAX_OPS`], [`MAX_STACK`]), values drop
//! without recursing, and their `Debug` form stops at a few levels, so no pickle can exhaust the
//! stack or the memory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::tensor::Tensor;

/// A pickled value. Containers are shared (`Rc<RefCell<…>>`) so that memoised references
/// observe later mutations, as in Python (and so a container can hold itself).
#[derive(Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Tuple(Rc<[Value]>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// A `module.name` reference; never imported.
    Global(Rc<Global>),
    /// The result of calling (`REDUCE`, `NEWOBJ`) a callable, possibly with `BUILD` state.
    Object(Rc<RefCell<Object>>),
    /// What the [`Resolver`] made of a persistent id (a torch storage).
    Storage(Rc<Storage>),
    /// What the [`Resolver`] made of a tensor-rebuilding call.
    Tensor(Rc<Tensor>),
}

/// A global name as `GLOBAL` / `STACK_GLOBAL` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    pub module: String,
    pub name: String,
}

impl Global {
    /// `module.name`, for messages and matching.
    pub fn path(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }
}

/// An object built by calling `callable(*args)`, then `BUILD` (state) and the
/// `SETITEM(S)` / `APPEND(S)` that dict and list subclasses receive.
#[derive(Clone)]
pub struct Object {
    pub callable: Value,
    pub args: Value,
    pub state: Option<Value>,
    pub dict_items: Vec<(Value, Value)>,
    pub list_items: Vec<Value>,
}

/// A reference to one torch storage: its key in the file, element type and size, and the
/// element offset of the view the id names (legacy views; 0 otherwise). The bytes are read
/// only when a tensor is built from it.
#[derive(Debug)]
pub struct Storage {
    pub dtype: crate::DType,
    pub key: String,
    pub numel: usize,
    pub offset: usize,
}

/// Gives meaning to persistent ids and to calls of known globals.
pub trait Resolver {
    /// `BINPERSID` / `PERSID`: map the pickled id to a value (usually a [`Value::Storage`]).
    fn persistent_load(&mut self, pid: &Value) -> Result<Value, String>;
    /// `REDUCE`: return `Some` to replace `callable(*args)` by a value; `None` keeps the inert
    /// [`Object`].
    fn reduce(&mut self, callable: &Global, args: &[Value]) -> Result<Option<Value>, String>;
}

/// The most opcodes one pickle may run: a state dict takes about ten per tensor, a pickled
/// detector module a few tens of thousands; this bounds the values (and memory) any pickle can
/// build.
pub const MAX_OPS: usize = 1 << 23;
/// The most values on the machine's stack at once (real pickles stay below a hundred).
pub const MAX_STACK: usize = 1 << 20;

/// Runs the pickle program in `data` until `STOP`; returns the value and the bytes consumed.
pub fn load(data: &[u8], resolver: &mut dyn Resolver) -> Result<(Value, usize), String> {
    let mut vm = Machine { data, pos: 0, stack: Vec::new(), marks: Vec::new(), memo: HashMap::new() };
    let value = vm.run(resolver)?;
    Ok((value, vm.pos))
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(format!("pickle data ends early (wanted {n} bytes at offset {})", self.pos)),
        }
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn le<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn len_u32(&mut self) -> Result<usize, String> {
        Ok(u32::from_le_bytes(self.le()?) as usize)
    }
    fn len_u64(&mut self) -> Result<usize, String> {
        let n = u64::from_le_bytes(self.le()?);
        usize::try_from(n).map_err(|_| format!("length {n} too large"))
    }
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let nl = rest.iter().position(|&b| b == b'\n').ok_or("pickle text line has no end")?;
        let s = String::from_utf8_lossy(&rest[..nl]).into_owned();
        self.pos += nl + 1;
        Ok(s)
    }
    fn utf8(&mut self, n: usize) -> Result<Value, String> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|e| format!("invalid UTF-8 string: {e}"))?;
        Ok(Value::Str(s.into()))
    }
    fn bytes(&mut self, n: usize) -> Result<Value, String> {
        Ok(Value::Bytes(self.take(n)?.into()))
    }
    fn pop(&mut self) -> Result<Value, String> {
        self.stack.pop().ok_or_else(|| "pickle stack underflow".to_string())
    }
    fn top(&mut self) -> Result<&mut Value, String> {
        self.stack.last_mut().ok_or_else(|| "pickle stack is empty".to_string())
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>, String> {
        let m = self.marks.pop().ok_or("pickle MARK missing")?;
        if m > self.stack.len() {
            return Err("pickle MARK beyond stack".into());
        }
        Ok(self.stack.split_off(m))
    }
    fn memo_get(&self, k: u64) -> Result<Value, String> {
        self.memo.get(&k).cloned().ok_or_else(|| format!("pickle memo key {k} not found"))
    }
    fn memo_put(&mut self, k: u64) -> Result<(), String> {
        let v = self.stack.last().cloned().ok_or("pickle PUT on empty stack")?;
        self.memo.insert(k, v);
        Ok(())
    }

    fn run(&mut self, resolver: &mut dyn Resolver) -> Result<Value, String> {
        for _ in 0..MAX_OPS {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(format!("unsupported pickle protocol {proto}"));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint only
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.stack.push(Value::Dict(Default::default())),
                b']' => self.stack.push(Value::List(Default::default())),
                b')' => self.stack.push(Value::Tuple(Rc::new([]))),
                0x8f => self.stack.push(Value::List(Default::default())), // EMPTY_SET
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items.into()));
                }
                0x91 => {
                    let items = self.pop_mark()?; // FROZENSET
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err("pickle stack underflow in TUPLEn".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items.into()));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { self.u8()? as usize } else { self.len_u32()? };
                    let v = long_from_le(self.take(n)?)?;
                    self.stack.push(Value::Int(v));
                }
                b'I' | b'L' => {
                    let line = self.line()?;
                    let t = line.trim_end_matches('L');
                    let v = match t {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        _ => Value::Int(t.parse().map_err(|_| format!("bad INT literal {line:?}"))?),
                    };
                    self.stack.push(v);
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.le()?);
                    self.stack.push(Value::Float(v));
                }
                b'F' => {
                    let line = self.line()?;
                    let v = line.parse().map_err(|_| format!("bad FLOAT literal {line:?}"))?;
                    self.stack.push(Value::Float(v));
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'X' => {
                    let n = self.len_u32()?;
                    let v = self.utf8(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.utf8(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let v = self.utf8(n)?;
                    self.stack.push(v);
                }
                b'V' | b'S' => {
                    let line = self.line()?;
                    let s = line.trim_matches(|c| c == '\'' || c == '"');
                    self.stack.push(Value::Str(s.into()));
                }
                b'T' | b'B' => {
                    let n = self.len_u32()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'U' | b'C' => {
                    let n = self.u8()? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(Rc::new(Global { module, name })));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module.as_str(), name.as_str()) {
                        (Some(m), Some(n)) => self
                            .stack
                            .push(Value::Global(Rc::new(Global { module: m.to_string(), name: n.to_string() }))),
                        _ => return Err("STACK_GLOBAL needs two strings".into()),
                    }
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = reduce(callable, args, resolver)?;
                    self.stack.push(v);
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.stack.push(new_object(cls, args));
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.stack.push(new_object(cls, args));
                }
                b'i' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let args = self.pop_mark()?;
                    let cls = Value::Global(Rc::new(Global { module, name }));
                    self.stack.push(new_object(cls, Value::Tuple(args.into())));
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err("OBJ without a class".into());
                    }
                    let cls = items.remove(0);
                    self.stack.push(new_object(cls, Value::Tuple(items.into())));
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()? {
                        Value::Object(o) => o.borrow_mut().state = Some(state),
                        Value::Dict(d) => {
                            if let Value::Dict(s) = &state {
                                // the state may be the dict itself: copy before extending
                                let items = s.borrow().clone();
                                d.borrow_mut().extend(items);
                            }
                        }
                        // Tensors and others: state (e.g. a Parameter's attributes) is not needed.
                        _ => {}
                    }
                }
                b'q' => {
                    let k = self.u8()? as u64;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(self.le()?) as u64;
                    self.memo_put(k)?;
                }
                b'p' => {
                    let line = self.line()?;
                    let k = line.parse().map_err(|_| format!("bad PUT key {line:?}"))?;
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = self.u8()? as u64;
                    let v = self.memo_get(k)?;
                    self.stack.push(v);
                }
                b'j' => {
                    let k = u32::from_le_bytes(self.le()?) as u64;
                    let v = self.memo_get(k)?;
                    self.stack.push(v);
                }
                b'g' => {
                    let line = self.line()?;
                    let k = line.parse().map_err(|_| format!("bad GET key {line:?}"))?;
                    let v = self.memo_get(k)?;
                    self.stack.push(v);
                }
                b'a' => {
                    let v = self.pop()?;
                    append(self.top()?, vec![v])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    append(self.top()?, items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    set_items(self.top()?, vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let p = pairs(items)?;
                    set_items(self.top()?, p)?;
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = resolver.persistent_load(&pid)?;
                    self.stack.push(v);
                }
                b'P' => {
                    let line = self.line()?;
                    let v = resolver.persistent_load(&Value::Str(line.into()))?;
                    self.stack.push(v);
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                other => return Err(format!("unsupported pickle opcode 0x{other:02x} at offset {}", self.pos - 1)),
            }
            if self.stack.len() > MAX_STACK {
                return Err(format!("pickle stack holds more than {MAX_STACK} values"));
            }
        }
        Err(format!("pickle runs more than {MAX_OPS} opcodes without STOP"))
    }
}

fn long_from_le(b: &[u8]) -> Result<i64, String> {
    if b.is_empty() {
        return Ok(0);
    }
    if b.len() > 8 {
        return Err(format!("integer of {} bytes does not fit 64 bits", b.len()));
    }
    let mut a = if b[b.len() - 1] & 0x80 != 0 { [0xffu8; 8] } else { [0u8; 8] };
    a[..b.len()].copy_from_slice(b);
    Ok(i64::from_le_bytes(a))
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of dict items".into());
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn new_object(callable: Value, args: Value) -> Value {
    Value::Object(Rc::new(RefCell::new(Object {
        callable,
        args,
        state: None,
        dict_items: Vec::new(),
        list_items: Vec::new(),
    })))
}

fn reduce(callable: Value, args: Value, resolver: &mut dyn Resolver) -> Result<Value, String> {
    if let (Value::Global(g), Value::Tuple(a)) = (&callable, &args)
        && let Some(v) = resolver.reduce(g, a)?
    {
        return Ok(v);
    }
    Ok(new_object(callable, args))
}

fn append(target: &mut Value, items: Vec<Value>) -> Result<(), String> {
    match target {
        Value::List(l) => l.borrow_mut().extend(items),
        Value::Object(o) => o.borrow_mut().list_items.extend(items),
        _ => return Err("APPEND to a value that is not a list".into()),
    }
    Ok(())
}

fn set_items(target: &mut Value, items: Vec<(Value, Value)>) -> Result<(), String> {
    match target {
        Value::Dict(d) => d.borrow_mut().extend(items),
        Value::Object(o) => o.borrow_mut().dict_items.extend(items),
        _ => return Err("SETITEM on a value that is not a dict".into()),
    }
    Ok(())
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    /// The elements of a tuple or list.
    pub fn items(&self) -> Option<Vec<Value>> {
        match self {
            Value::Tuple(t) => Some(t.to_vec()),
            Value::List(l) => Some(l.borrow().clone()),
            _ => None,
        }
    }
    /// The key/value pairs of a dict or of a dict-like object (`OrderedDict`).
    pub fn dict_items(&self) -> Option<Vec<(Value, Value)>> {
        match self {
            Value::Dict(d) => Some(d.borrow().clone()),
            Value::Object(o) => {
                let o = o.borrow();
                match &o.callable {
                    Value::Global(g) if g.name.ends_with("OrderedDict") || g.name == "dict" => {
                        Some(o.dict_items.clone())
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
    /// Looks up a string key in a dict or dict-like object.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.dict_items()?.into_iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }
}

impl Drop for Value {
    /// Drops nested containers with a loop instead of recursion: a pickle can nest values far
    /// deeper than the thread's stack.
    fn drop(&mut self) {
        let mut owned = Vec::new();
        take_children(self, &mut owned);
        while let Some(mut v) = owned.pop() {
            take_children(&mut v, &mut owned);
        }
    }
}

/// Moves the children of `v` into `out` when `v` holds the only reference to them.
fn take_children(v: &mut Value, out: &mut Vec<Value>) {
    let take = |x: &mut Value| std::mem::replace(x, Value::None);
    match v {
        Value::Tuple(t) => {
            if let Some(items) = Rc::get_mut(t) {
                out.extend(items.iter_mut().map(take));
            }
        }
        Value::List(l) => {
            if let Some(items) = Rc::get_mut(l) {
                out.append(items.get_mut());
            }
        }
        Value::Dict(d) => {
            if let Some(items) = Rc::get_mut(d) {
                out.extend(items.get_mut().drain(..).flat_map(|(k, v)| [k, v]));
            }
        }
        Value::Object(o) => {
            if let Some(o) = Rc::get_mut(o) {
                let o = o.get_mut();
                out.extend([take(&mut o.callable), take(&mut o.args)]);
                out.extend(o.state.take());
                out.extend(o.dict_items.drain(..).flat_map(|(k, v)| [k, v]));
                out.append(&mut o.list_items);
            }
        }
        _ => {}
    }
}

/// How deep and how wide the `Debug` form of a value goes.
const DEBUG_DEPTH: usize = 4;
const DEBUG_ITEMS: usize = 8;

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_value(self, f, 0)
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        debug_object(self, f, 0)
    }
}

/// A value's `Debug` form, cut at [`DEBUG_DEPTH`] levels and [`DEBUG_ITEMS`] items: values
/// can hold themselves.
fn debug_value(v: &Value, f: &mut std::fmt::Formatter<'_>, depth: usize) -> std::fmt::Result {
    let items = |f: &mut std::fmt::Formatter<'_>, open: &str, close: &str, items: &[Value]| {
        f.write_str(open)?;
        for (i, x) in items.iter().take(DEBUG_ITEMS).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            debug_value(x, f, depth + 1)?;
        }
        if items.len() > DEBUG_ITEMS {
            write!(f, ", … ({} more)", items.len() - DEBUG_ITEMS)?;
        }
        f.write_str(close)
    };
    match v {
        Value::None => f.write_str("None"),
        Value::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
        Value::Int(i) => write!(f, "{i}"),
        Value::Float(x) => write!(f, "{x:?}"),
        Value::Str(s) if s.chars().count() > 64 => write!(f, "{:?}…", s.chars().take(64).collect::<String>()),
        Value::Str(s) => write!(f, "{s:?}"),
        Value::Bytes(b) => write!(f, "<{} bytes>", b.len()),
        Value::Global(g) => f.write_str(&g.path()),
        Value::Storage(s) => write!(f, "<storage {} {:?}×{}>", s.key, s.dtype, s.numel),
        Value::Tensor(t) => write!(f, "<tensor {:?} {:?}>", t.stored_as, t.shape),
        _ if depth >= DEBUG_DEPTH => f.write_str("…"),
        Value::Tuple(t) => items(f, "(", ")", t),
        Value::List(l) => match l.try_borrow() {
            Ok(l) => items(f, "[", "]", &l),
            Err(_) => f.write_str("[…]"),
        },
        Value::Dict(d) => match d.try_borrow() {
            Ok(d) => {
                let flat: Vec<Value> = d.iter().take(DEBUG_ITEMS).flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
                f.write_str("{")?;
                for (i, pair) in flat.chunks(2).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    debug_value(&pair[0], f, depth + 1)?;
                    f.write_str(": ")?;
                    debug_value(&pair[1], f, depth + 1)?;
                }
                if d.len() > DEBUG_ITEMS {
                    write!(f, ", … ({} more)", d.len() - DEBUG_ITEMS)?;
                }
                f.write_str("}")
            }
            Err(_) => f.write_str("{…}"),
        },
        Value::Object(o) => match o.try_borrow() {
            Ok(o) => debug_object(&o, f, depth),
            Err(_) => f.write_str("<object …>"),
        },
    }
}

fn debug_object(o: &Object, f: &mut std::fmt::Formatter<'_>, depth: usize) -> std::fmt::Result {
    debug_value(&o.callable, f, depth + 1)?;
    debug_value(&o.args, f, depth + 1)?;
    if let Some(state) = &o.state {
        f.write_str(" with state ")?;
        debug_value(state, f, depth + 1)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoResolver;
    impl Resolver for NoResolver {
        fn persistent_load(&mut self, _: &Value) -> Result<Value, String> {
            Err("no persistent ids".into())
        }
        fn reduce(&mut self, _: &Global, _: &[Value]) -> Result<Option<Value>, String> {
            Ok(None)
        }
    }

    #[test]
    fn reads_protocol2_dict_with_memo() {
        // pickle.dumps({'a': [1, 2.5, 'x'], 'b': (True, None)}, protocol=2)
        let data = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x01\x00\x00\x00bq\x04\x88N\x86q\x05u.";
        let (v, used) = load(data, &mut NoResolver).unwrap();
        assert_eq!(used, data.len());
        let a = v.get("a").unwrap().items().unwrap();
        assert_eq!(a[0].as_int(), Some(1));
        assert!(matches!(a[1], Value::Float(f) if f == 2.5));
        assert_eq!(a[2].as_str(), Some("x"));
        let b = v.get("b").unwrap().items().unwrap();
        assert!(matches!(b[0], Value::Bool(true)));
        assert!(matches!(b[1], Value::None));
    }

    #[test]
    fn truncated_program_is_an_error_not_a_panic() {
        let data = b"\x80\x02}q\x00(X\x01\x00\x00";
        let err = load(data, &mut NoResolver).unwrap_err();
        assert!(err.contains("ends early"), "{err}");
    }

    #[test]
    fn negative_long1() {
        // pickle.dumps(-300, protocol=2) == b'\x80\x02J\xd4\xfe\xff\xff.'; LONG1 form of -2**40:
        let data = b"\x80\x02\x8a\x06\x00\x00\x00\x00\x00\xff.";
        let (v, _) = load(data, &mut NoResolver).unwrap();
        assert_eq!(v.as_int(), Some(-(1i64 << 40)));
    }

    #[test]
    fn deep_nesting_and_self_reference_neither_overflow_nor_hang() {
        // 300,000 nested lists through the memo: `]` `q0`, then per level `]` `h0` `a` `q0`
        let mut data = b"\x80\x02]q\x00".to_vec();
        for _ in 0..300_000 {
            data.extend_from_slice(b"]h\x00aq\x00");
        }
        data.push(b'.');
        let (v, _) = load(&data, &mut NoResolver).unwrap();
        assert!(format!("{v:?}").len() < 1000);
        drop(v);
        // a list that holds itself, and BUILD with a dict as its own state
        let data = b"\x80\x02]q\x00h\x00a}q\x01h\x01b.";
        let err = load(data, &mut NoResolver).map(|(v, _)| format!("{v:?}"));
        assert!(err.is_ok(), "{err:?}");
        // endless pushes stop at the stack bound
        let mut data = b"\x80\x02N".to_vec();
        data.extend(std::iter::repeat_n(b'2', MAX_STACK + 10));
        let err = load(&data, &mut NoResolver).unwrap_err();
        assert!(err.contains("stack"), "{err}");
    }
}
