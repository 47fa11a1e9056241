//! Import of the LRP Toolbox's plain-text model format (Lapuschkin et al. 2016).
//!
//! Each layer is a line `Linear m n`, `Convolution h w d n s0 s1`, `Rect`, `Tanh`, `SoftMax`, `Flatten`,
//! `SumPool h w s0 s1` or `MaxPool h w s0 s1`; `Linear` and `Convolution` are followed by one line of
//! weights in C order (`[m, n]` resp. `[h, w, d, n]`) and one line of `n` biases. The toolbox stores
//! activations as NHWC; we convert weights to CHW order (so a `Linear` after a spatial tensor gets its
//! rows permuted). `SoftMax` is dropped: we explain logits. `SumPool` is the window sum times
//! `1/sqrt(h*w)`, as in the toolbox.

use super::{Conv2d, Dense, InputStage, Layer, Model, ModelMeta, Pool, Shape, MAX_PARAMETERS};
use crate::error::{LrpError, Result};
use ndarray::{Array1, Array2, Array4};

/// The input stage the toolbox model expects (its MNIST models: `scale 2, shift -1`, the CNN also
/// `pad 2, pad_value -1`).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolboxOptions {
    pub stage: InputStage,
    pub name: String,
}

fn err(line: usize, message: impl Into<String>) -> LrpError {
    LrpError::Toolbox { line, message: message.into() }
}

fn ints(line: usize, parts: &[&str], n: usize) -> Result<Vec<usize>> {
    if parts.len() != n + 1 {
        return Err(err(line, format!("`{}` takes {n} integers, got {}", parts[0], parts.len() - 1)));
    }
    parts[1..].iter().map(|p| p.parse::<usize>().map_err(|_| err(line, format!("`{p}` is not a non-negative integer")))).collect()
}

/// Reads the line of `n` numbers that follows the layer line `after`.
fn floats(after: usize, next: Option<(usize, &str)>, n: usize) -> Result<Vec<f32>> {
    let (line, text) = next.ok_or_else(|| err(after, format!("expected a line of {n} numbers after this one, found the end of the file")))?;
    let mut v = Vec::with_capacity(n.min(MAX_PARAMETERS));
    for tok in text.split_whitespace() {
        if v.len() == n {
            return Err(err(line, format!("more than the {n} numbers expected")));
        }
        let x: f32 = tok.parse().map_err(|_| err(line, format!("`{tok}` is not a number")))?;
        if !x.is_finite() {
            return Err(err(line, format!("non-finite value `{tok}`")));
        }
        v.push(x);
    }
    if v.len() != n {
        return Err(err(line, format!("expected {n} numbers, found {}", v.len())));
    }
    Ok(v)
}

/// Parses a toolbox text model into a validated [`Model`] with the given input stage.
pub fn import_toolbox(text: &str, opts: &ToolboxOptions) -> Result<Model> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty());
    opts.stage.validate()?;
    if opts.stage.input_shape() != Shape::new(1, crate::model::SIDE, crate::model::SIDE) {
        return Err(LrpError::InvalidModel("toolbox models take 28x28 grey digits: the input stage must be 1x28x28".into()));
    }
    let mut shape = opts.stage.padded_shape();
    let mut layers = Vec::new();
    // the spatial shape a toolbox `Flatten` flattened (in NHWC order), for the next `Linear`
    let mut flattened: Option<Shape> = None;
    let mut params = 0usize;
    let mut budget = |line: usize, n: Option<usize>| -> Result<usize> {
        let n = n.filter(|&n| n <= MAX_PARAMETERS).ok_or_else(|| err(line, format!("layer size exceeds the limit of {MAX_PARAMETERS} parameters")))?;
        params += n;
        if params > MAX_PARAMETERS {
            return Err(err(line, format!("the model exceeds the limit of {MAX_PARAMETERS} parameters")));
        }
        Ok(n)
    };
    while let Some((ln, line)) = lines.next() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let layer = match parts[0] {
            "Linear" => {
                let d = ints(ln, &parts, 2)?;
                let (m, n) = (d[0], d[1]);
                budget(ln, m.checked_mul(n))?;
                let w = floats(ln, lines.next(), m * n)?;
                let b = floats(ln, lines.next(), n)?;
                if shape.len() != m {
                    return Err(err(ln, format!("Linear expects {m} inputs but the previous layer gives {}", shape.len())));
                }
                // toolbox row r indexes the NHWC-flattened input: r = (y * W + x) * C + c
                let src = if shape.h * shape.w > 1 { shape } else { flattened.unwrap_or(shape) };
                let mut weight = Array2::<f32>::zeros((n, m));
                for y in 0..src.h {
                    for x in 0..src.w {
                        for c in 0..src.c {
                            let r = (y * src.w + x) * src.c + c;
                            let ours = (c * src.h + y) * src.w + x;
                            for o in 0..n {
                                weight[[o, ours]] = w[r * n + o];
                            }
                        }
                    }
                }
                if shape.h * shape.w > 1 {
                    layers.push(Layer::Flatten);
                }
                Layer::Dense(Dense { weight, bias: Array1::from(b) })
            }
            "Convolution" => {
                let d = ints(ln, &parts, 6)?;
                let (h, w, din, n, s0, s1) = (d[0], d[1], d[2], d[3], d[4], d[5]);
                budget(ln, h.checked_mul(w).and_then(|x| x.checked_mul(din)).and_then(|x| x.checked_mul(n)))?;
                let wt = floats(ln, lines.next(), h * w * din * n)?;
                let b = floats(ln, lines.next(), n)?;
                let weight = Array4::from_shape_fn((n, din, h, w), |(o, c, y, x)| wt[((y * w + x) * din + c) * n + o]);
                Layer::Conv2d(Conv2d::new(weight, Array1::from(b), [s0, s1], 0))
            }
            "MaxPool" | "SumPool" => {
                let d = ints(ln, &parts, 4)?;
                let pool = Pool::new([d[0], d[1]], [d[2], d[3]]);
                if parts[0] == "MaxPool" {
                    Layer::MaxPool2d(pool)
                } else {
                    Layer::SumPool2d(pool, 1.0 / ((d[0] * d[1]).max(1) as f32).sqrt())
                }
            }
            "Rect" => Layer::Relu,
            "Tanh" => Layer::Tanh,
            "Flatten" => Layer::Flatten,
            "SoftMax" => continue,
            other => return Err(err(ln, format!("unknown layer type `{other}`"))),
        };
        flattened = match layer {
            Layer::Flatten => Some(shape),
            Layer::Relu | Layer::Tanh => flattened,
            _ => None,
        };
        shape = layer.output_shape(&[shape]).map_err(|e| err(ln, e))?;
        layers.push(layer);
    }
    if layers.is_empty() {
        return Err(err(0, "the file holds no layers"));
    }
    let mut meta = ModelMeta::digits(&opts.name);
    meta.classes = (0..shape.len()).map(|d| d.to_string()).collect();
    meta.description = "imported from the LRP Toolbox text format".into();
    meta.provenance = serde_json::json!({ "source": "lrp import-toolbox", "input_stage": opts.stage });
    Model::new(opts.stage.clone(), layers, meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_line_of_a_bad_number() {
        let text = "Linear 2 1\n1 x\n0\n";
        let opts = ToolboxOptions { stage: InputStage::default(), name: "t".into() };
        match import_toolbox(text, &opts) {
            Err(LrpError::Toolbox { line, message }) => {
                assert_eq!(line, 2);
                assert!(message.contains("`x`"), "{message}");
            }
            other => panic!("expected a toolbox error, got {other:?}"),
        }
    }
}
