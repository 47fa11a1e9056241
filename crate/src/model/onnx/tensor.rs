//! Constant tensors of an ONNX graph (initializers, `Constant` nodes and what shape arithmetic makes of
//! them) and the operators folded on them at load: `Shape`, `Gather`, `ConstantOfShape`, `Concat`,
//! `Slice`, `Transpose`, `Cast`, `Reshape`, `Squeeze`, `Unsqueeze` and element-wise arithmetic. Every
//! size is checked before anything is allocated.

use super::proto::{tensor_proto::DataType, TensorProto};
use crate::model::MAX_PARAMETERS;

/// Largest constant tensor the loader makes or reads (values).
pub const MAX_CONST: usize = MAX_PARAMETERS;

/// Element values: floats (any float type, as f32) or integers (any integer or bool type, as i64).
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

/// A constant tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    pub dims: Vec<usize>,
    pub data: Data,
}

type R<T> = std::result::Result<T, String>;

/// The number of values of `dims`, if it is at most [`MAX_CONST`].
pub fn count(dims: &[usize]) -> R<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_CONST)
        .ok_or_else(|| format!("a tensor of shape {dims:?} is larger than the limit of {MAX_CONST} values"))
}

fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// `axis` of a tensor of rank `rank`, negative counted from the end.
pub fn axis(a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} is out of range for rank {rank}"))
    }
}

impl Const {
    pub fn f32(dims: Vec<usize>, v: Vec<f32>) -> Const {
        Const { dims, data: Data::F32(v) }
    }
    pub fn i64(dims: Vec<usize>, v: Vec<i64>) -> Const {
        Const { dims, data: Data::I64(v) }
    }
    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }
    /// The values as floats (integers converted).
    pub fn floats(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
    /// The values as integers (an error for floats: shapes, axes and pads are integers in ONNX).
    pub fn ints(&self) -> R<&[i64]> {
        match &self.data {
            Data::I64(v) => Ok(v),
            Data::F32(_) => Err("expected an integer tensor, found floats".into()),
        }
    }
    /// The single value of a one-element tensor, as a float.
    pub fn scalar(&self) -> R<f32> {
        if self.len() != 1 {
            return Err(format!("expected one value, found a tensor of shape {:?}", self.dims));
        }
        Ok(self.floats()[0])
    }

    /// Reads a `TensorProto`: its declared shape is checked against the bytes it holds.
    pub fn from_proto(t: &TensorProto) -> R<Const> {
        let name = t.name();
        if t.data_location() == super::proto::tensor_proto::DataLocation::External || !t.external_data.is_empty() {
            return Err(format!(
                "tensor \"{name}\" is stored in an external data file, which is not supported: export with external_data=False (one .onnx file)"
            ));
        }
        if t.segment.is_some() {
            return Err(format!("tensor \"{name}\" is segmented, which is not supported"));
        }
        let dims =
            t.dims.iter().map(|&d| usize::try_from(d).map_err(|_| format!("tensor \"{name}\" has a negative dimension {d}"))).collect::<R<Vec<usize>>>()?;
        let n = count(&dims).map_err(|e| format!("tensor \"{name}\": {e}"))?;
        let raw = t.raw_data.as_deref();
        let lie = |held: usize, unit: &str| format!("tensor \"{name}\" declares shape {dims:?} ({n} values) but holds {held} {unit}");
        // the raw bytes, checked to hold exactly n values of `size` bytes
        let raw_of = |size: usize| -> R<Option<&[u8]>> {
            match raw {
                Some(b) if b.len() != n * size => Err(lie(b.len(), "bytes")),
                other => Ok(other),
            }
        };
        let listed = |len: usize| if len == n { Ok(()) } else { Err(lie(len, "values")) };
        let dt = DataType::try_from(t.data_type()).map_err(|_| format!("tensor \"{name}\" has an unknown data type {}", t.data_type()))?;
        let data = match dt {
            DataType::Float => match raw_of(4)? {
                Some(b) => Data::F32(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
                None => listed(t.float_data.len()).map(|_| Data::F32(t.float_data.clone()))?,
            },
            DataType::Double => match raw_of(8)? {
                Some(b) => Data::F32(b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect()),
                None => listed(t.double_data.len()).map(|_| Data::F32(t.double_data.iter().map(|&v| v as f32).collect()))?,
            },
            DataType::Float16 | DataType::Bfloat16 => {
                let half = |bits: u16| match dt {
                    DataType::Float16 => half::f16::from_bits(bits).to_f32(),
                    _ => half::bf16::from_bits(bits).to_f32(),
                };
                match raw_of(2)? {
                    Some(b) => Data::F32(b.chunks_exact(2).map(|c| half(u16::from_le_bytes([c[0], c[1]]))).collect()),
                    None => listed(t.int32_data.len()).map(|_| Data::F32(t.int32_data.iter().map(|&v| half(v as u16)).collect()))?,
                }
            }
            DataType::Int64 => match raw_of(8)? {
                Some(b) => Data::I64(b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect()),
                None => listed(t.int64_data.len()).map(|_| Data::I64(t.int64_data.clone()))?,
            },
            DataType::Int32 => match raw_of(4)? {
                Some(b) => Data::I64(b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect()),
                None => listed(t.int32_data.len()).map(|_| Data::I64(t.int32_data.iter().map(|&v| v as i64).collect()))?,
            },
            DataType::Int8 | DataType::Uint8 | DataType::Bool => match raw_of(1)? {
                Some(b) => Data::I64(b.iter().map(|&v| if dt == DataType::Int8 { v as i8 as i64 } else { v as i64 }).collect()),
                None => listed(t.int32_data.len()).map(|_| Data::I64(t.int32_data.iter().map(|&v| v as i64).collect()))?,
            },
            other => return Err(format!("tensor \"{name}\" has data type {}, which is not supported", other.as_str_name())),
        };
        Ok(Const { dims, data })
    }

    /// The same values with other dimensions (the count must match).
    pub fn reshaped(mut self, dims: Vec<usize>) -> R<Const> {
        if count(&dims)? != self.len() {
            return Err(format!("cannot reshape {} values to {dims:?}", self.len()));
        }
        self.dims = dims;
        Ok(self)
    }

    /// Picks values by flat source index.
    fn pick(&self, dims: Vec<usize>, idx: impl Iterator<Item = usize>) -> Const {
        let data = match &self.data {
            Data::F32(v) => Data::F32(idx.map(|i| v[i]).collect()),
            Data::I64(v) => Data::I64(idx.map(|i| v[i]).collect()),
        };
        Const { dims, data }
    }

    /// Converts to `to` (an ONNX `DataType` number): floats or integers.
    pub fn cast(&self, to: i32) -> R<Const> {
        let dt = DataType::try_from(to).map_err(|_| format!("Cast to unknown type {to}"))?;
        let data = match dt {
            DataType::Float | DataType::Double | DataType::Float16 | DataType::Bfloat16 => Data::F32(self.floats()),
            DataType::Int64 | DataType::Int32 | DataType::Int8 | DataType::Uint8 | DataType::Bool => Data::I64(match &self.data {
                Data::I64(v) => v.clone(),
                Data::F32(v) => v.iter().map(|&x| if dt == DataType::Bool { (x != 0.0) as i64 } else { x as i64 }).collect(),
            }),
            other => return Err(format!("Cast to {} is not supported", other.as_str_name())),
        };
        Ok(Const { dims: self.dims.clone(), data })
    }

    /// `Gather` along `axis` with integer `indices` (negative counted from the end).
    pub fn gather(&self, indices: &Const, axis_: i64) -> R<Const> {
        let a = axis(axis_, self.dims.len())?;
        if self.dims.is_empty() {
            return Err("Gather of a scalar".into());
        }
        let n = self.dims[a] as i64;
        let idx = indices
            .ints()?
            .iter()
            .map(|&i| {
                let j = if i < 0 { i + n } else { i };
                if (0..n).contains(&j) {
                    Ok(j as usize)
                } else {
                    Err(format!("Gather index {i} is out of range for a dimension of {n}"))
                }
            })
            .collect::<R<Vec<usize>>>()?;
        let outer: usize = self.dims[..a].iter().product();
        let inner: usize = self.dims[a + 1..].iter().product();
        let mut dims = self.dims[..a].to_vec();
        dims.extend(&indices.dims);
        dims.extend(&self.dims[a + 1..]);
        count(&dims)?;
        let d = self.dims[a];
        let it = (0..outer).flat_map(|o| idx.iter().flat_map(move |&j| (0..inner).map(move |i| (o * d + j) * inner + i)));
        Ok(self.pick(dims, it))
    }

    /// `Transpose` by `perm` (default: reversed axes).
    pub fn transpose(&self, perm: Option<&[i64]>) -> R<Const> {
        let r = self.dims.len();
        let perm: Vec<usize> = match perm {
            Some(p) => p.iter().map(|&a| axis(a, r)).collect::<R<_>>()?,
            None => (0..r).rev().collect(),
        };
        let mut seen = vec![false; r];
        if perm.len() != r || perm.iter().any(|&a| std::mem::replace(&mut seen[a], true)) {
            return Err(format!("Transpose perm {perm:?} is not a permutation of {r} axes"));
        }
        let dims: Vec<usize> = perm.iter().map(|&a| self.dims[a]).collect();
        let src = strides(&self.dims);
        let it = Index::new(&dims).map(|ix| ix.iter().zip(&perm).map(|(&i, &a)| i * src[a]).sum());
        Ok(self.pick(dims, it))
    }

    /// `Slice` with `starts`, `ends`, `axes` and `steps` (ONNX's clamping rules, negative steps too).
    pub fn slice(&self, starts: &[i64], ends: &[i64], axes: Option<&[i64]>, steps: Option<&[i64]>) -> R<Const> {
        let r = self.dims.len();
        let axes: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&x| axis(x, r)).collect::<R<_>>()?,
            None => (0..starts.len()).collect(),
        };
        if starts.len() != axes.len() || ends.len() != axes.len() || steps.is_some_and(|s| s.len() != axes.len()) {
            return Err("Slice: starts, ends, axes and steps differ in length".into());
        }
        // per axis: first index, step, count
        let mut sel: Vec<(i64, i64, usize)> = self.dims.iter().map(|&d| (0, 1, d)).collect();
        for (k, &a) in axes.iter().enumerate() {
            let d = self.dims[a] as i64;
            let step = steps.map_or(1, |s| s[k]);
            if step == 0 {
                return Err("Slice step 0".into());
            }
            let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
            let (s, e) = (norm(starts[k]), norm(ends[k]));
            let (s, e) = if step > 0 { (s.clamp(0, d), e.clamp(0, d)) } else { (s.clamp(0, (d - 1).max(0)), e.clamp(-1, d - 1)) };
            let (span, step_) = if step > 0 { (e - s, step as i128) } else { (s - e, -(step as i128)) };
            let n = if d == 0 { 0 } else { (span as i128 + step_ - 1).max(0) / step_ };
            sel[a] = (s, step, n as usize);
        }
        let dims: Vec<usize> = sel.iter().map(|s| s.2).collect();
        count(&dims)?;
        let src = strides(&self.dims);
        let it = Index::new(&dims).map(|ix| ix.iter().zip(&sel).zip(&src).map(|((&i, &(s, st, _)), &sd)| (s + i as i64 * st) as usize * sd).sum());
        Ok(self.pick(dims, it))
    }

    /// `Concat` of constants along `axis`.
    pub fn concat(parts: &[&Const], axis_: i64) -> R<Const> {
        let first = parts.first().ok_or("Concat of nothing")?;
        let r = first.dims.len();
        let a = axis(axis_, r)?;
        let ints = matches!(first.data, Data::I64(_));
        for p in parts {
            let same = p.dims.len() == r && p.dims.iter().enumerate().all(|(i, &d)| i == a || d == first.dims[i]);
            if !same || matches!(p.data, Data::I64(_)) != ints {
                return Err(format!("Concat of tensors of shapes {:?} and {:?} (or of different types)", first.dims, p.dims));
            }
        }
        let mut dims = first.dims.clone();
        dims[a] = parts.iter().map(|p| p.dims[a]).sum();
        count(&dims)?;
        let outer: usize = first.dims[..a].iter().product();
        let chunk = |p: &Const| p.dims[a..].iter().product::<usize>();
        let data = if ints {
            let v: Vec<&[i64]> = parts.iter().map(|p| p.ints()).collect::<R<_>>()?;
            Data::I64((0..outer).flat_map(|o| parts.iter().zip(&v).flat_map(move |(p, v)| v[o * chunk(p)..(o + 1) * chunk(p)].iter().copied())).collect())
        } else {
            let v: Vec<Vec<f32>> = parts.iter().map(|p| p.floats()).collect();
            Data::F32((0..outer).flat_map(|o| parts.iter().zip(&v).flat_map(move |(p, v)| v[o * chunk(p)..(o + 1) * chunk(p)].to_vec())).collect())
        };
        Ok(Const { dims, data })
    }

    /// Element-wise `op` (`Add`, `Sub`, `Mul`, `Div`) with NumPy broadcasting; integers stay integers
    /// (division truncates, as ONNX's integer `Div`).
    pub fn binary(&self, other: &Const, op: &str) -> R<Const> {
        let r = self.dims.len().max(other.dims.len());
        let pad = |d: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, r - d.len()).chain(d.iter().copied()).collect() };
        let (a, b) = (pad(&self.dims), pad(&other.dims));
        let dims = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| {
                if x == y || y == 1 {
                    Ok(x)
                } else if x == 1 {
                    Ok(y)
                } else {
                    Err(format!("{op} of shapes {:?} and {:?}", self.dims, other.dims))
                }
            })
            .collect::<R<Vec<usize>>>()?;
        count(&dims)?;
        let (sa, sb) = (strides(&a), strides(&b));
        let offset = |ix: &[usize], d: &[usize], s: &[usize]| -> usize { ix.iter().zip(d).zip(s).map(|((&i, &n), &st)| if n == 1 { 0 } else { i * st }).sum() };
        let pairs = || Index::new(&dims).map(|ix| (offset(&ix, &a, &sa), offset(&ix, &b, &sb)));
        let data = match (&self.data, &other.data) {
            (Data::I64(x), Data::I64(y)) => Data::I64(
                pairs()
                    .map(|(i, j)| match op {
                        "Add" => Ok(x[i].wrapping_add(y[j])),
                        "Sub" => Ok(x[i].wrapping_sub(y[j])),
                        "Mul" => Ok(x[i].wrapping_mul(y[j])),
                        _ => x[i].checked_div(y[j]).ok_or_else(|| "integer division by zero".to_string()),
                    })
                    .collect::<R<_>>()?,
            ),
            (Data::F32(x), Data::F32(y)) => Data::F32(
                pairs()
                    .map(|(i, j)| match op {
                        "Add" => x[i] + y[j],
                        "Sub" => x[i] - y[j],
                        "Mul" => x[i] * y[j],
                        _ => x[i] / y[j],
                    })
                    .collect(),
            ),
            _ => return Err(format!("{op} of an integer and a float tensor")),
        };
        Ok(Const { dims, data })
    }

    /// Element-wise `Ceil`, `Floor` or `Neg`.
    pub fn unary(&self, op: &str) -> Const {
        let data = match &self.data {
            Data::I64(v) => Data::I64(if op == "Neg" { v.iter().map(|x| x.wrapping_neg()).collect() } else { v.clone() }),
            Data::F32(v) => Data::F32(
                v.iter()
                    .map(|&x| match op {
                        "Ceil" => x.ceil(),
                        "Floor" => x.floor(),
                        _ => -x,
                    })
                    .collect(),
            ),
        };
        Const { dims: self.dims.clone(), data }
    }
}

/// Row-major multi-indices of a shape.
struct Index {
    dims: Vec<usize>,
    cur: Vec<usize>,
    left: usize,
}

impl Index {
    fn new(dims: &[usize]) -> Index {
        Index { dims: dims.to_vec(), cur: vec![0; dims.len()], left: dims.iter().product() }
    }
}

impl Iterator for Index {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let out = self.cur.clone();
        for i in (0..self.dims.len()).rev() {
            self.cur[i] += 1;
            if self.cur[i] < self.dims[i] {
                break;
            }
            self.cur[i] = 0;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(dims: &[usize], v: &[i64]) -> Const {
        Const::i64(dims.to_vec(), v.to_vec())
    }

    #[test]
    fn slice_with_a_negative_step_reverses() {
        // PyTorch's pad subgraph: a [4, 2] table read backwards along axis 0
        let t = ints(&[4, 2], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let s = t.slice(&[-1], &[i64::MIN], Some(&[0]), Some(&[-1])).unwrap();
        assert_eq!(s, ints(&[4, 2], &[6, 7, 4, 5, 2, 3, 0, 1]));
        let s = t.slice(&[1], &[i64::MAX], Some(&[1]), None).unwrap();
        assert_eq!(s, ints(&[4, 1], &[1, 3, 5, 7]));
        let s = t.slice(&[0], &[4], Some(&[0]), Some(&[2])).unwrap();
        assert_eq!(s, ints(&[2, 2], &[0, 1, 4, 5]));
    }

    #[test]
    fn transpose_gather_concat_and_broadcast() {
        let t = ints(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(t.transpose(None).unwrap(), ints(&[3, 2], &[1, 4, 2, 5, 3, 6]));
        assert_eq!(t.gather(&ints(&[2], &[-1, 0]), 1).unwrap(), ints(&[2, 2], &[3, 1, 6, 4]));
        assert_eq!(t.gather(&ints(&[], &[1]), 0).unwrap(), ints(&[3], &[4, 5, 6]));
        assert_eq!(Const::concat(&[&t, &ints(&[2, 1], &[7, 8])], -1).unwrap(), ints(&[2, 4], &[1, 2, 3, 7, 4, 5, 6, 8]));
        assert_eq!(t.binary(&ints(&[3], &[10, 20, 30]), "Add").unwrap(), ints(&[2, 3], &[11, 22, 33, 14, 25, 36]));
        assert_eq!(t.binary(&ints(&[2, 1], &[2, 3]), "Div").unwrap(), ints(&[2, 3], &[0, 1, 1, 1, 1, 2]));
        assert!(t.binary(&ints(&[2], &[1, 1]), "Add").is_err());
        assert!(t.gather(&ints(&[1], &[3]), 1).is_err());
    }

    #[test]
    fn declared_sizes_are_checked_against_the_data() {
        let mut p = TensorProto { dims: vec![2, 3], data_type: Some(DataType::Float as i32), raw_data: Some(vec![0; 20]), ..Default::default() };
        assert!(Const::from_proto(&p).unwrap_err().contains("holds 20 bytes"));
        p.raw_data = Some(vec![0; 24]);
        assert_eq!(Const::from_proto(&p).unwrap().floats(), vec![0.0; 6]);
        p.dims = vec![1_000_000_000, 1_000_000_000];
        assert!(Const::from_proto(&p).unwrap_err().contains("larger than the limit"));
        p.dims = vec![-1];
        assert!(Const::from_proto(&p).unwrap_err().contains("negative"));
        // float16 in int32_data, as the ONNX spec stores it without raw data
        let h = TensorProto { dims: vec![2], data_type: Some(DataType::Float16 as i32), int32_data: vec![0x3c00, 0xc000], ..Default::default() };
        assert_eq!(Const::from_proto(&h).unwrap().floats(), vec![1.0, -2.0]);
    }
}
