//! BatchNorm with inference statistics, `y = (x - mean) / sqrt(var + eps) * gamma + beta` per channel,
//! and the canonizer that folds it into the convolution or dense layer before it when a model is built
//! (as Zennit's `MergeBatchNorm`): LRP rules are defined on that merged affine layer. Identity and
//! dropout nodes are dropped by the same pass.

use super::{Layer, NodeOp, NodeSpec};
use crate::error::{invalid_model, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f32,
}

impl BatchNorm {
    /// Per channel `(scale, shift)` with `y = x * scale + shift`, in Zennit's order of operations.
    pub fn affine(&self) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = self.gamma.iter().zip(&self.var).map(|(g, v)| g / (v + self.eps).sqrt()).collect();
        let shift = self.beta.iter().zip(&self.mean).zip(&scale).map(|((b, m), s)| b - m * s).collect();
        (scale, shift)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let n = self.gamma.len();
        if [self.beta.len(), self.mean.len(), self.var.len()].iter().any(|&l| l != n) {
            return Err("gamma, beta, mean and variance must have one value per channel".into());
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(format!("eps must be finite and >= 0, got {}", self.eps));
        }
        if self.gamma.iter().chain(&self.beta).chain(&self.mean).chain(&self.var).any(|v| !v.is_finite()) {
            return Err("NaN or infinite statistics".into());
        }
        if let Some(v) = self.var.iter().find(|v| **v + self.eps <= 0.0) {
            return Err(format!("variance {v} plus eps is not positive"));
        }
        Ok(())
    }

    /// Folds into `layer` (its output channels must match): `W' = W * scale`, `b' = (b - mean) * scale + beta`.
    fn fold_into(&self, layer: &mut Layer) -> std::result::Result<(), String> {
        let (scale, _) = self.affine();
        let (w, b) = match layer {
            Layer::Dense(d) => (d.weight.as_slice_mut(), d.bias.as_slice_mut()),
            Layer::Conv2d(c) => (c.weight.as_slice_mut(), c.bias.as_slice_mut()),
            other => return Err(format!("its input comes from a {} layer, not a convolution or dense layer", other.kind())),
        };
        let (w, b) = (w.ok_or("weights are not contiguous")?, b.ok_or("bias is not contiguous")?);
        if b.is_empty() {
            return Err("the layer before it has no outputs".into());
        }
        if b.len() != scale.len() {
            return Err(format!("{} channels after a layer with {} outputs", scale.len(), b.len()));
        }
        let per = w.len() / b.len();
        for (c, s) in scale.iter().enumerate() {
            w[c * per..(c + 1) * per].iter_mut().for_each(|v| *v *= s);
            b[c] = (b[c] - self.mean[c]) * s + self.beta[c];
        }
        Ok(())
    }
}

/// Folds every BatchNorm into the layer before it and drops identity nodes; renumbers the values
/// (value 0: the input; value `k + 1`: the output of node `k`). Errors name the node.
pub fn canonize(nodes: Vec<NodeSpec>) -> Result<Vec<(Layer, Vec<usize>)>> {
    // `same[v]`: the value v stands for once identities are dropped (old numbering); `map[v]`: its
    // number in the canonized graph, where a BatchNorm's output is the folded layer's output
    let (mut same, mut map) = (vec![0usize], vec![0usize]);
    let mut kept = 0usize;
    for (k, n) in nodes.iter().enumerate() {
        if let Some(&bad) = n.inputs.iter().find(|&&v| v > k) {
            return Err(invalid_model(format!("node {k} reads value {bad}, which is not computed before it (values 0..={k})")));
        }
        if n.inputs.is_empty() {
            return Err(invalid_model(format!("node {k} has no inputs")));
        }
        match &n.op {
            NodeOp::Identity | NodeOp::BatchNorm(_) if n.inputs.len() != 1 => {
                return Err(invalid_model(format!("node {k} ({}) takes one input, not {}", n.op.kind(), n.inputs.len())));
            }
            NodeOp::Identity => {
                same.push(same[n.inputs[0]]);
                map.push(map[n.inputs[0]]);
            }
            NodeOp::BatchNorm(_) => {
                same.push(k + 1);
                map.push(map[n.inputs[0]]);
            }
            NodeOp::Layer(_) => {
                kept += 1;
                same.push(k + 1);
                map.push(kept);
            }
        }
    }
    // who reads each value (identities see through)
    let mut readers = vec![0usize; nodes.len() + 1];
    for n in nodes.iter().filter(|n| !matches!(n.op, NodeOp::Identity)) {
        for &v in &n.inputs {
            readers[same[v]] += 1;
        }
    }
    // the file's last node is the output: dropping it must leave the last kept layer's output in its place
    if nodes.last().is_some_and(|n| !matches!(n.op, NodeOp::Layer(_))) && map[nodes.len()] != kept {
        let k = nodes.len() - 1;
        return Err(invalid_model(format!(
            "the last node ({}) passes on value {}, not the output of the layer before it",
            nodes[k].op.kind(),
            nodes[k].inputs[0]
        )));
    }
    let mut out: Vec<(Layer, Vec<usize>)> = Vec::with_capacity(kept);
    for (k, n) in nodes.iter().enumerate() {
        match &n.op {
            NodeOp::Layer(l) => out.push((l.clone(), n.inputs.iter().map(|&v| map[v]).collect())),
            NodeOp::Identity => {}
            NodeOp::BatchNorm(bn) => {
                let fail = |why: String| invalid_model(format!("node {k} (batchnorm) cannot be folded: {why}"));
                bn.validate().map_err(fail)?;
                let v = same[n.inputs[0]];
                if v == 0 {
                    return Err(fail("it normalizes the model input, not the output of a convolution or dense layer".into()));
                }
                if !matches!(nodes[v - 1].op, NodeOp::Layer(Layer::Conv2d(_) | Layer::Dense(_))) {
                    return Err(fail(format!("its input comes from a {} node, not a convolution or dense layer", nodes[v - 1].op.kind())));
                }
                if readers[v] != 1 {
                    return Err(fail(format!("the output it normalizes is also read by {} other node(s)", readers[v] - 1)));
                }
                bn.fold_into(&mut out[map[v] - 1].0).map_err(fail)?;
            }
        }
    }
    Ok(out)
}
