//! A small builder for ONNX graphs: named weights, integer constants and single-output nodes
//! with fresh value names, in the order they are added (already topological).

use crate::proto::{
    AttributeProto, GraphProto, NodeProto, TensorProto, TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto,
};
use crate::proto::{Dimension, attribute_type, data_type};

/// One dimension of a graph input or output: fixed, or named and chosen at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(usize),
    Named(&'static str),
}

#[derive(Default)]
pub(crate) struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    next: usize,
    shared: std::collections::HashSet<String>,
}

impl GraphBuilder {
    /// Declares a float32 graph input.
    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.inputs.push(value_info(name, dims));
        name.to_string()
    }

    /// Names `value` as a float32 graph output (through an Identity node when renamed).
    pub fn output(&mut self, value: &str, name: &str, dims: &[Dim]) {
        if value != name {
            self.nodes.push(NodeProto {
                input: vec![value.into()],
                output: vec![name.into()],
                name: format!("{name}_identity"),
                op_type: "Identity".into(),
                attribute: vec![],
            });
        }
        self.outputs.push(value_info(name, dims));
    }

    /// A float32 constant (a weight), stored as raw little-endian bytes.
    pub fn weight(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.into(),
            raw_data,
        });
        name.to_string()
    }

    /// A float32 scalar constant.
    pub fn scalar(&mut self, name: &str, value: f32) -> String {
        self.weight(name, &[], &[value])
    }

    /// A float32 scalar constant made once and reused under `name`.
    pub fn scalar_shared(&mut self, name: &str, value: f32) -> String {
        if self.shared.insert(name.to_string()) {
            self.scalar(name, value);
        }
        name.to_string()
    }

    /// A 1-D int64 constant made once and reused under `name`.
    pub fn ints_shared(&mut self, name: &str, values: &[i64]) -> String {
        if self.shared.insert(name.to_string()) {
            self.ints(name, values);
        }
        name.to_string()
    }

    /// A 1-D int64 constant (shapes, axes).
    pub fn ints(&mut self, name: &str, values: &[i64]) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: data_type::INT64,
            name: name.into(),
            raw_data,
        });
        name.to_string()
    }

    /// Adds a node with one output and returns that output's name.
    pub fn op(&mut self, op_type: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.next += 1;
        let output = format!("{}_{}", op_type.to_lowercase(), self.next);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.clone()],
            name: format!("{op_type}_{}", self.next),
            op_type: op_type.into(),
            attribute,
        });
        output
    }

    pub fn finish(self, name: &str) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: name.into(),
            initializer: self.initializers,
            input: self.inputs,
            output: self.outputs,
        }
    }
}

pub(crate) fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i, r#type: attribute_type::INT, ..Default::default() }
}

pub(crate) fn ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: ints.to_vec(), r#type: attribute_type::INTS, ..Default::default() }
}

pub(crate) fn string(name: &str, s: &str) -> AttributeProto {
    AttributeProto { name: name.into(), s: s.as_bytes().to_vec(), r#type: attribute_type::STRING, ..Default::default() }
}

pub(crate) fn float(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f, r#type: attribute_type::FLOAT, ..Default::default() }
}

fn value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => Dimension { dim_value: Some(*n as i64), dim_param: None },
            Dim::Named(s) => Dimension { dim_value: None, dim_param: Some(s.to_string()) },
        })
        .collect();
    let tensor_type = TensorTypeProto { elem_type: data_type::FLOAT, shape: Some(TensorShapeProto { dim }) };
    ValueInfoProto { name: name.into(), r#type: Some(TypeProto { tensor_type: Some(tensor_type) }) }
}
